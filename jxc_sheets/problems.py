"""The catalogue of problems: one stable code each, a Chinese and an English
message. Everything that reports a problem to a user builds it here, so the
wording lives in one place and every code is documented (README, 问题代码)."""
from __future__ import annotations

from .records import Problem

CATALOGUE: dict[str, tuple[str, str]] = {
    # the file as a whole
    "file-unreadable": ("无法作为 Excel 工作簿打开: {reason_zh}; 请用 Excel 打开后另存为 .xlsx 工作簿, 再放入收件箱",
                        "cannot be opened as a workbook: {reason}; open it in Excel, save it as an .xlsx workbook and drop that"),
    "file-too-large": ("文件{what_zh}为 {actual} MB, 超过上限 {limit} MB (配置 reader.{key}); 请拆成几个较小的文件",
                       "the file's {what} is {actual} MB, over the limit of {limit} MB (config reader.{key}); split it into smaller files"),
    "file-zip-bomb": ("{part} 解压后是压缩时的 {actual} 倍, 超过上限 {limit} 倍 (配置 reader.max_compression_ratio); "
                      "正常的工作簿只有 5-20 倍, 这像是压缩炸弹, 未读取",
                      "{part} unpacks to {actual} times its packed size, over the limit of {limit} (config reader.max_compression_ratio); "
                      "ordinary workbooks unpack 5-20 times: this looks like a zip bomb and was not read"),
    "file-unsafe-xml": ("{part} 含有 DTD/实体声明 (XML 实体扩展或外部实体), Excel 从不这样保存; 为安全起见未读取此文件",
                        "{part} holds a DTD or entity declaration (XML entity expansion or an external entity), "
                        "which Excel never writes; the file was refused unread"),
    "sheet-too-large": ("数据区域 {extent} 有 {actual} {what_zh}, 超过上限 {limit} (配置 reader.{key}); 请删除远处多余的单元格, 或拆成几个文件",
                        "the data range {extent} has {actual} {what}, over the limit of {limit} (config reader.{key}); "
                        "delete stray cells far from the table, or split the file"),
    "file-no-form": ("不是 jxc 表单: 没有 _meta 工作表, 也没有单据类型(kind)列; 请使用 templates/ 中的表单",
                     "not a jxc form: no _meta sheet and no kind column; use a form from templates/"),
    "file-unknown-kind": ("未知的单据类型 '{kind}'; 请使用 templates/ 中的表单", "unknown form kind '{kind}'; use a form from templates/"),
    "file-form-version": ("表单版本 {version} 比本程序新, 请 IT 升级 jxc, 或使用 templates/ 中的表单",
                          "form version {version} is newer than this program; ask IT to upgrade jxc, or use a form from templates/"),
    "file-name-too-long": ("文件名太长 ({size} 字节), 无法存放; 请改短 (不超过 {limit} 字节, 约 {limit_zh} 个汉字) 后重新放进收件箱",
                           "the file name is too long ({size} bytes) to be filed; shorten it (at most {limit} bytes) and drop it again"),
    "file-is-link": ("这是一个链接 (快捷方式), 指向 {target}; 为安全起见, jxc 不读链接; 请把文件本身放进收件箱",
                     "this is a link (shortcut) to {target}; jxc never reads through a link: put the file itself into the inbox"),
    "department-kind": ("{folder} 文件夹不能提交{kind_zh}({kind}), 只能提交: {allowed_zh}; {fix_zh}",
                        "the folder {folder} may not post {kind}, only: {allowed}; {fix}"),
    "file-no-table": ("找不到明细表头(如 '物料编码 sku' 一行); 请使用 templates/ 中的表单, 不要删改标题行",
                      "no line table found (a row of labels such as 'sku'); use a form from templates/ and keep its label row"),
    "file-no-lines": ("没有填写任何明细行; 请在标题行下面至少填一行", "no lines filled in; fill in at least one row below the labels"),
    "missing-column": ("明细表缺少列 {label}; 请使用 templates/ 中的表单, 或把这一列补回标题行",
                       "the line table lacks the column {label}; use a form from templates/, or put the column back"),
    "missing-field": ("表头缺少字段 {label}; 请使用 templates/ 中的表单", "the form lacks the header field {label}; use a form from templates/"),
    # one cell
    "required": ("{label} 不能为空, 请填写", "{key} must not be empty: fill it in"),
    "not-a-number": ("{label} 不是数字; {fix_zh}", "{key} is not a number; {fix}"),
    "not-a-date": ("{label} 不是日期(如 2026-11-03)", "{key} is not a date (e.g. 2026-11-03)"),
    "not-a-month": ("{label} 不是月份(如 2026-12)", "{key} is not a month (e.g. 2026-12)"),
    "not-an-integer": ("{label} 必须是整数, 如 3", "{key} must be a whole number, such as 3"),
    "not-yes-no": ("{label} 只能填 Y 或 N", "{key} must be Y or N"),
    "not-an-amount": ("{label} 不是金额, 请写成 1200.00 (也可写 ￥1,200.00元)",
                      "{key} is not an amount: write 1200.00 (RMB 1,200.00 is read too)"),
    "too-many-decimals": ("{label} 最多 {places} 位小数; 请四舍五入", "{key} allows at most {places} decimal places: round it"),
    "too-long": ("{label} 最长 {limit} 个字符; 请缩短", "{key} allows at most {limit} characters: shorten it"),
    "negative": ("{label} 不能为负数; 请填 0 或正数", "{key} must not be negative: give 0 or more"),
    "number-too-large": ("{label} 超过最大值 {limit}; 请核对数字 (是否多打了几位)",
                         "{key} is larger than the most the ledger holds, {limit}: check the figure for extra digits"),
    "amount-too-large": ("数量 × {label} = {amount}, 超过金额的最大值 {limit}; 请核对数量和单价",
                         "qty × {key} = {amount}, more than the largest amount the ledger holds, {limit}: check qty and price"),
    "qty-positive": ("数量必须大于 0; 退货请用退货单 (purchase_return / sales_return)",
                     "qty must be > 0; for a return use the return form (purchase_return / sales_return)"),
    "qty-nonzero": ("数量不能为 0 (正数入库, 负数出库)", "qty must not be 0 (+ in, - out)"),
    "formula-no-value": ("公式没有保存的计算结果, 请在 Excel 中重新计算后保存",
                         "a formula with no saved result: recalculate in Excel and save"),
    "cell-error": ("单元格显示错误 {error}: 请修正公式 (或改填数值)", "the cell shows the error {error}: fix the formula (or type the value)"),
    "bad-units": ("辅助单位应写成 箱=24; 包=6 (单位=含多少个基本单位, 多个用分号隔开)",
                  "alternate units must read like box=24; pack=6 (unit = how many base units, separated by semicolons)"),
    "duplicate-key": ("编码 {key} 在本文件中重复(另见 {other}); 请删除或合并其中一行",
                      "code {key} appears twice in this file (see also {other}); delete or merge one of the rows"),
    "conflicting-header": ("同一单号 {doc_no} 的 {label} 前后不一致(另见 {other}); 请改成一致, 或用不同单号分开",
                           "rows of document {doc_no} disagree on {label} (see {other}); make them agree, or split them under two numbers"),
    "doc-no-repeated": ("单号 {doc_no} 在本文件中出现两次且内容不同; 请给第二张单据换一个单号",
                        "document {doc_no} appears twice in this file with different content; give the second one a new number"),
    "same-warehouse": ("调出仓库与调入仓库相同; 请改填不同的仓库", "from_warehouse and to_warehouse are the same: name two different warehouses"),
    "arrival-before-date": ("到货日期 {arrival} 早于调出日期 {doc_date}; 请填当日或以后的日期, 当日到货可留空",
                            "arrival_date {arrival} is before doc_date {doc_date}: give that day or later, "
                            "or leave it empty when the goods arrive the same day"),
    # against the ledger
    "unknown-items": ("物料编码 {code} 不存在; {fix_zh}", "unknown sku {code}; {fix}"),
    "unknown-warehouses": ("仓库 {code} 不存在; {fix_zh}", "unknown warehouse {code}; {fix}"),
    "unknown-suppliers": ("供应商 {code} 不存在; {fix_zh}", "unknown supplier {code}; {fix}"),
    "unknown-customers": ("客户 {code} 不存在; {fix_zh}", "unknown customer {code}; {fix}"),
    "inactive-item": ("物料 {code} 已停用; 请改用在用的物料, 或在物料表 items.xlsx 把 是否启用 改为 Y 后重新放入",
                      "item {code} is inactive; use an active item, or set active to Y in items.xlsx and drop that first"),
    "unknown-unit": ("物料 {sku} 没有单位 '{unit}' (可用: {units}); 请改填可用的单位, 或在物料表的 辅助单位 登记它",
                     "item {sku} has no unit '{unit}' (known: {units}); use a known unit, or register it under alt_units in items.xlsx"),
    "unit-change": ("物料 {sku} 已有库存流水, 不能把基本单位从 {old} 改为 {new}; 请保持原单位, 或新建一个物料编码",
                    "item {sku} has movements: its base unit cannot change from {old} to {new}; keep it, or register a new sku"),
    "doc-no-conflict": ("单号 {doc_no} 已过账且内容不同; 如需更正, 请 IT 先红字冲销 {doc_no}, 再用新单号提交; 如是另一张单据, 请换一个单号",
                        "{doc_no} is already posted with different content; to correct it, ask IT to reverse {doc_no}, then post anew under a new number; another document needs a number of its own"),
    "insufficient-stock": ("库存不足: {sku} 在仓库 {warehouse} 于 {date} 可用 {available}, 本单需要 {needed}; 请核对数量和仓库, 或先提交入库单",
                           "not enough stock: {sku} in {warehouse} on {date} has {available}, this needs {needed}; check qty and warehouse, or post the receipt first"),
    # batches, expiry and serials (check/batches.py)
    "batch-required": ("物料 {sku} 实行批次管理, 必须填写 批号; {fix_zh}",
                       "{sku} is batch-tracked: fill in its batch; {fix}"),
    "batch-not-in-stock": ("批号 {batch} 在仓库 {warehouse} 于 {date} 可用 {available}, 本单需要 {needed}; 该仓库现有批号: {there_zh}; "
                           "请改填其中的批号, 或拆成几行",
                           "batch {batch} of {sku} in {warehouse} on {date} has {available}, this needs {needed}; "
                           "the batches there: {there}; name one of them, or split the line"),
    "batch-short": ("先到期先出自动选批: 物料 {sku} 在仓库 {warehouse} 于 {date} 未过期的批次合计只有 {available}, 本单需要 {needed}"
                    " (已过期不选: {expired_zh}); 请核对数量, 或先提交入库单",
                    "first-expiry-first-out: {sku} in {warehouse} on {date} has only {available} in batches not expired, "
                    "this needs {needed} (expired, never picked: {expired}); check the qty, or post the receipt first"),
    "batch-expired": ("批号 {batch} 已于 {expiry} 过期, 不能销售出库 ({date}); 请改发未过期的批号, 过期品请用其他出入库单报损",
                      "batch {batch} expired on {expiry}: it cannot be delivered on {date}; deliver a batch not expired,"
                      " and write expired goods off with an adjustment"),
    "batch-near-expiry": ("批号 {batch} 将于 {expiry} 到期 (还剩 {days} 天, 预警 {warning} 天); 已过账, 请提醒客户",
                          "batch {batch} expires on {expiry} ({days} days left, warning at {warning}); posted: tell the customer"),
    "expiry-required": ("物料 {sku} 实行保质期管理, 新批号 {batch} 须填写 有效期至, 或填写 生产日期 并在物料表填写 保质期(天)",
                        "{sku} is expiry-tracked: the new batch {batch} needs an expiry date, or a production date with"
                        " the item's shelf_life_days in items.xlsx"),
    "batch-dates-differ": ("批号 {batch} 已登记的有效期至为 {known}, 本行为 {given}; 请核对批号, 或留空有效期至",
                           "batch {batch} is registered as expiring on {known}, this line says {given}; check the batch,"
                           " or leave the expiry date empty"),
    "batch-not-supported": ("{kind_zh}暂不支持批次或序列号物料 {sku}; 请改用其他出入库单 (adjustment) 按批号调整",
                            "{kind} does not carry batches or serials yet ({sku}); use an adjustment that names the batch"),
    "batch-switch-needs-opening": ("物料 {sku} 已有库存 ({stock_zh}), 不能直接改为{what_zh}; 请提交一张期初单 (opening),"
                                   " 表头 转批次管理 填 Y, 按仓库把这些库存逐批列出 (数量合计相等): 它只分配批号, 不重复入库",
                                   "{sku} has stock ({stock}): it cannot simply become {what}; drop an opening with"
                                   " switch_tracking = Y listing that stock by warehouse and batch (the same totals):"
                                   " it assigns batches and adds no stock"),
    "batch-switch-off": ("物料 {sku} 的{what_zh}不能取消: 仍有 {held} 按批号/序列号在库; 请在物料表保留 Y (重新提交旧的物料表时请核对这一列)",
                         "{sku} cannot stop being {what}: {held} is in stock by batch or serial; keep Y in items.xlsx"
                         " (check this column when an old items file is dropped again)"),
    "batch-switch-totals": ("转批次管理: 期初单所列 {sku} 为 {listed}, 账面库存为 {held}; 请按仓库逐批列出全部现有库存, 合计相等",
                            "switch_tracking: the opening lists {sku} as {listed}, the book holds {held}; list all the"
                            " stock held, warehouse by warehouse, with the same totals"),
    "serial-required": ("物料 {sku} 实行序列号管理, 必须填写 序列号 (每行一个且数量 1, 或用逗号分隔的清单)",
                        "{sku} is serial-tracked: fill in its serials (one per line with qty 1, or a list separated by commas)"),
    "serial-count": ("序列号有 {count} 个, 数量为 {qty}; 请使两者相等 (每个序列号一件)",
                     "{count} serials for a qty of {qty}: make them equal (one serial per unit)"),
    "serial-repeated": ("序列号 {serial} 在本文件中出现两次 (另见 {other}); 请删除重复的",
                        "serial {serial} appears twice in this file (see also {other}): remove one"),
    "serial-in-stock": ("序列号 {serial} 已在库 (仓库 {warehouse}, 单号 {doc_no}), 不能再入库; 请核对序列号",
                        "serial {serial} is in stock already ({warehouse}, document {doc_no}): it cannot come in twice; check the serial"),
    "serial-not-in-stock": ("序列号 {serial} 不在仓库 {warehouse}: {place_zh}; 请核对序列号, 或改填该仓库在库的序列号",
                            "serial {serial} is not in {warehouse}: {place}; check the serial, or name one in stock there"),
    "serial-not-shipped-to": ("序列号 {serial} 没有发给客户 {customer}: {place_zh}; 退货只能退回发给该客户的序列号",
                              "serial {serial} was never shipped to {customer}: {place}; a customer returns only serials shipped to it"),
    "period-closed": ("{month} 已结账, 不能再过账 {doc_no}; 请改用未结账月份的日期, 或请财务反结账",
                      "{month} is closed: {doc_no} cannot post there; date it in an open month, or ask finance to reopen"),
    # orders
    "order-unknown": ("关联单号 {ref} 不是已过账的{order_zh}; 请核对单号, 或先提交该订单",
                      "ref_doc {ref} is not a posted {order_en}; check the number, or post the order first"),
    "order-closed": ("{order_zh} {ref} 已关闭或已全部{done_zh}, 没有未完成数量; 请改填未完成的订单号, 或清空关联单号",
                     "{order_en} {ref} is closed or complete: nothing is open on it; name an open order, or leave ref_doc empty"),
    "order-other-party": ("{order_zh} {ref} 属于{party_zh} {owner}, 不是 {party}; 请核对单号或{party_zh}",
                          "{order_en} {ref} belongs to {owner}, not {party}; check the number or the party"),
    "order-sku-not-ordered": ("物料 {sku} 不在{order_zh} {ref} 上; 请核对物料, 或把这一行另开一张不关联订单的单据",
                              "{sku} is not on {order_en} {ref}; check the sku, or put the line on a document without ref_doc"),
    "order-over": ("超出{order_zh} {ref}: {sku} 尚未{done_zh} {open} {unit}, 本行 {qty} (允许超出 {tolerance}%); 请减少数量, 或为多出的部分另下订单",
                   "more than {order_en} {ref} has open: {sku} has {open} {unit} open, this line {qty} (tolerance {tolerance}%);"
                   " lower the qty, or put the rest on a new order"),
    "order-close-new": ("订单 {doc_no} 尚未过账, 关闭标记只用于已过账的订单; 新订单请留空",
                        "{doc_no} is not posted yet: the close marker is for an order already posted; leave it empty"),
    # counts
    "not-a-tax-rate": ("{label} 只能是增值税税率 13%、9%、6%、5%、3%、1% 或 0 (免税); 如 13% 可写 13% 或 0.13",
                       "{key} must be a VAT rate: 13%, 9%, 6%, 5%, 3%, 1% or 0; 13% may be written 13% or 0.13"),
    "price-required": ("{sku} 没有价格: 请填写 单价、含税单价、金额 或 价税合计 其中之一",
                       "{sku} has no price: fill in the price before or after tax, the amount or the amount with tax"),
    "price-mismatch": ("含税单价 {price_incl} 与 不含税单价 {price} × (1 + {rate}) 不符; 只填其中一个即可",
                       "the price with tax {price_incl} disagrees with the price {price} × (1 + {rate}); fill in only one"),
    "tax-mismatch": ("税额 {tax} 与 金额 {amount} × 税率 {rate} = {expected} 相差超过 0.06 元; 请按发票核对",
                     "tax {tax} differs from amount {amount} × rate {rate} = {expected} by more than 0.06; check the invoice"),
    "invoice-type": ("发票类型只能填 专票、普票 或 无票", "the invoice type must be special (a special VAT invoice), ordinary or none"),
    "counted-after": ("{doc_no} 的日期 {date} 不晚于已过账的盘点单 {count}({count_date}) 对 {sku}@{warehouse} 的盘点:"
                      " 过账后盘点日的账面数将与实盘不符; 请把日期改为盘点日之后, 或请主管先冲销该盘点单",
                      "{doc_no} is dated {date}, on or before count {count} of {sku} in {warehouse} ({count_date}):"
                      " posted, the book at the count date would no longer be what was counted; date it after"
                      " the count, or ask a supervisor to reverse the count first"),
    "count-scope": ("盘点范围只能填 全盘(full) 或 抽盘(partial)", "scope must be full or partial"),
    "count-unknown": ("盘点单 {doc_no} 未过账, 无从审批; 请先提交盘点单, 再用 outbox/variance/ 中的审批表",
                      "count {doc_no} is not posted: there is nothing to approve; post the count first, then use the workbook from outbox/variance/"),
    "count-line-unknown": ("盘点单 {doc_no} 没有第 {line} 行物料 {sku}; 请使用 outbox/variance/ 中的审批表",
                           "count {doc_no} has no line {line} for {sku}; use the workbook from outbox/variance/"),
    # money: receipts and payments, opening receivables and payables
    "amount-positive": ("金额必须大于 0", "the amount must be > 0"),
    "opening-partner": ("每行只填客户(应收)或供应商(应付)其中一个", "fill exactly one of customer (a receivable) or supplier (a payable)"),
    "unknown-funds_accounts": ("资金账户 {code} 不存在(请先在 funds_accounts 表中登记)",
                               "unknown funds account {code} (register it in the funds_accounts form first)"),
    "settle-unknown": ("核销单号 {ref} 不是{party_zh}的已过账单据(出入库单或期初单)",
                       "settle_doc {ref} is no posted document of a {party} (a delivery, receipt or opening line)"),
    "settle-other-partner": ("单据 {ref} 属于 {owner}, 不是 {partner}", "{ref} belongs to {owner}, not {partner}"),
    "settle-done": ("单据 {ref} 已全部核销, 没有未结金额", "{ref} is settled already: nothing is open on it"),
    "settle-over": ("核销金额超过单据 {ref} 的未结金额 {open}", "more than {ref} has open ({open})"),
    "settle-over-amount": ("核销金额合计 {settled} 超过本单金额 {amount}", "the lines settle {settled}, more than the amount {amount}"),
    "opening-repeated": ("{party_zh} {partner} 的期初单据 {ref} 已经登记过", "the opening item {ref} of {partner} is recorded already"),
    "same-account": ("转出账户与转入账户相同", "from_account and to_account are the same"),
    "income-or-expense": ("收入与支出只填一个", "fill exactly one of income and expense"),
    "confirm-value": ("确认只能填 Y (无误) 或 有异议 (也可填 N)", "confirm must be Y (agreed) or N (disputed)"),
    "dispute-reason": ("有异议时请写明异议原因", "a disputed line needs its reason"),
    "statement-line-unknown": ("对账单没有这一行: {partner} 的单据 {ref}; 请使用 outbox/statements/ 中的对账单",
                               "the statement has no such line: {ref} of {partner}; use the workbook from outbox/statements/"),
    "credit-limit": ("超出信用额度: 客户 {customer} 额度 {limit}, 现有应收 {open}, 本单 {amount}, 超出 {over}; 请先收款或调整额度",
                     "over the credit limit: {customer} may owe {limit}, owes {open}, and this adds {amount}: {over} over; "
                     "collect first or raise the limit"),
    # assembly and disassembly
    "bom-missing": ("{sku} 在 {date} 没有有效的物料清单; 请先提交物料清单 boms.xlsx, 或在明细中列出组件和用量",
                    "{sku} has no bill of materials in force on {date}: post its BOM (boms.xlsx) first, or list the components on the form"),
    # landed cost
    "landed-basis": ("分摊方式只能填 金额、数量 或 手工 (留空按金额)", "basis must be amount, qty or manual (empty: amount)"),
    "landed-receipt-unknown": ("入库单 {ref} 还没有过账: 请先放入入库单 {ref}, 或把它和本单一起放进收件箱 (同一批先过入库单);"
                               " 货还没到就等入库单过账后再放本单 (本单未入账, 不会丢失)",
                               "receipt {ref} is not posted: drop receipt {ref} first, or together with this form"
                               " (a batch posts its receipts first); if the goods are not in yet, drop this form again"
                               " once the receipt has posted (nothing was posted, nothing is lost)"),
    "landed-receipt-same-file": ("入库单 {ref} 和本费用分摊单在同一个文件里: 费用只能分摊到已过账的入库单; 请把费用分摊单另存为"
                                 "单独的文件, 和入库单一起放进收件箱 (同一批先过入库单)",
                                 "receipt {ref} is in the same file as this landed cost, which is spread over posted"
                                 " receipts only: save the landed cost as a file of its own and drop both together"
                                 " (a batch posts its receipts first)"),
    "landed-receipt-closed": ("入库单 {ref} 在已结账的 {month}, 不能再分摊费用; 请财务先反结账 {month} 后再提交",
                              "receipt {ref} is in the closed month {month}: no expense can be added to it; ask finance"
                              " to reopen {month} first"),
    "landed-before-receipt": ("费用日期早于入库单 {ref} 的日期 {date}; 请填入库当日或以后的日期",
                              "the expense is dated before receipt {ref} ({date}): date it on or after the receipt"),
    "landed-sku-not-on-receipt": ("入库单 {ref} 上没有物料 {sku}; 留空即分摊到整张入库单",
                                  "receipt {ref} has no line of {sku}; leave sku empty to spread over the whole receipt"),
    "landed-no-weight": ("按重量分摊, 但物料 {skus} 没有单位重量: 请在物料资料 items.xlsx 的 单位重量 列填上并放入收件箱,"
                         " 或改用 金额/数量 分摊",
                         "by weight, but items {skus} have no unit weight: fill the weight column of items.xlsx and drop it,"
                         " or spread by amount or qty"),
    "landed-manual-total": ("手工分摊的各行合计 {lines} 不等于费用金额 {total}",
                            "the lines' amounts add up to {lines}, not the expense amount {total}"),
    # write-down
    "write-down-reversal-exceeds": ("转回 {amount} 超过 {sku} 在仓库 {warehouse} 已计提的跌价准备 {booked}: 最多转回 {booked}",
                                    "reversing {amount} takes back more than the provision booked for {sku} in {warehouse}"
                                    " ({booked}): reverse at most {booked}"),
    "write-down-small-business": ("小企业会计准则不计提存货跌价准备 (config.yaml 的 finance.chart 是 {chart}): 本单不能过账;"
                                  " 执行企业会计准则请把 finance.chart 改为 enterprise",
                                  "the small business standard books no write-down (finance.chart is {chart}): this form"
                                  " cannot post; under the enterprise standard set finance.chart to enterprise"),
    "price-list-scope": ("每行填 客户 或 客户等级 其中一个 (不要都填, 也不要都空)",
                         "fill in either customer or grade on each row (not both, not neither)"),
    "price-list-dates": ("失效日期 {valid_to} 早于生效日期 {valid_from}; 请改正日期",
                         "valid_to {valid_to} is before valid_from {valid_from}; correct the dates"),
    "price-below-minimum": ("{sku} 单价 (不含税, 按基本单位) {price} 低于最低价 {minimum} ({source_zh}); 请改价, 或请主管调整价格表",
                            "{sku} is priced {price} (before tax, per base unit), below its minimum {minimum} ({source});"
                            " correct the price, or ask a manager to change the price list"),
    "price-below-cost": ("{sku} 单价 (不含税, 按基本单位) {price} 低于当前成本 {cost}; 请核对单价",
                         "{sku} is priced {price} (before tax, per base unit), below its current cost {cost}; check the price"),
    "return-reason": ("退货原因只能是: {allowed}; 请从下拉列表选择, 或请 IT 在 config.yaml 的 sales.more_return_reasons 增加",
                      "the return reason must be one of: {allowed}; pick one from the list, or ask IT to add it"
                      " (sales.more_return_reasons in config.yaml)"),
    "exchange-leg": ("类型只能填 退回 (客户退回的货) 或 换出 (换给客户的货)",
                     "the leg must be return (goods back from the customer) or out (goods sent instead)"),
    "exchange-both-legs": ("换货单 {doc_no} 缺少 {missing} 的明细: 换货单要同时有退回和换出; 只退货请用销售退货单",
                           "exchange {doc_no} has no {missing} lines: an exchange needs both legs; a plain return"
                           " goes on the sales return form"),
    "feedback-category": ("类别只能是 咨询、投诉、建议、表扬; 请从下拉列表选择",
                          "the category must be inquiry, complaint, suggestion or praise; pick one from the list"),
    "feedback-status": ("状态只能是 处理中 或 已解决; 请从下拉列表选择", "the status must be open or resolved; pick one from the list"),
    "feedback-new": ("{doc_no} 是新的反馈编号, 必须填写 {label}; 如要更新已有的反馈, 请核对编号",
                     "{doc_no} is a new feedback number: fill in {label}; to update a case, check its number"),
    "repair-status": ("状态只能是 维修中、已修好 或 已取回; 请从下拉列表选择",
                      "the status must be in hand, repaired or returned; pick one from the list"),
    "rejected-over-qty": ("不合格数量 大于 数量 {qty}: 数量是实收总数, 不合格数量是其中的一部分",
                          "the rejected qty is more than the qty {qty}: qty is all that was received, the rejected qty a part of it"),
    "quarantine-warehouse": ("有不合格数量, 但待处理仓库 {warehouse} 未设置、未登记或就是本单仓库; 请 IT 在 config.yaml 的"
                             " quality.quarantine_warehouse 填一个已登记的仓库 (如 QC)",
                             "rejected goods need a quarantine warehouse, but {warehouse} is not set, not registered, or this"
                             " receipt's own; ask IT to name a registered one in quality.quarantine_warehouse (config.yaml)"),
    "quarantine-sale": ("{warehouse} 是待处理 (不合格品) 仓库, 不能销售; 请选择其他仓库, 或先把检验合格的货调拨出来",
                        "{warehouse} holds rejected goods (quarantine) and sells nothing; pick another warehouse, or"
                        " transfer goods out once they are accepted"),
    # warnings: the file posts, the processing log shows them
    "bom-override": ("{sku} 的组件与物料清单 (生效日期 {version}) 不同, 按本单明细过账: {difference}",
                     "the components of {sku} differ from its BOM (valid from {version}); posted as listed: {difference}"),
    "price-off-order": ("{sku} 单价 {price} 与{order_zh} {ref} 的 {ordered} 相差超过 {tolerance}%",
                        "{sku} price {price} differs from {order_en} {ref}'s {ordered} by more than {tolerance}%"),
    "issued-at-zero": ("{sku} 在仓库 {warehouse} 还从未有过成本, 物料表也没有标准成本: 这次出库按 0 计价, 到货后再调整;"
                       " 请在物料表 items.xlsx 的 标准成本 列填写",
                       "{sku} has never had a cost in {warehouse} and has no standard cost: this issue is valued at 0"
                       " until goods arrive; fill in the standard cost (std_cost) in items.xlsx"),
    "hidden-rows": ("第 {rows} 行是隐藏的, 已照常过账 (隐藏不等于删除; 不要的行请删除)",
                    "rows {rows} were hidden and were posted (hiding is not deleting: delete rows you do not want)"),
    "footer-skipped": ("第 {rows} 行是表格下方的说明 (如导出时间), 未当作明细读取",
                       "rows {rows} below the table (such as the export time) were taken for a footer and skipped"),
    "backorder": ("缺货待发: {sku} 可用 {available}, 订单 {doc_no} 有 {short} 需等到货",
                  "backorder: {sku} has {available} available; {short} of {doc_no} waits for stock"),
    # the program itself
    "internal-error": ("处理时程序出错, 文件未过账, 请联系 IT: {reason}", "the program failed on this file; nothing was posted; tell IT: {reason}"),
}


NOT_A_NUMBER_FIXES: dict[str, tuple[str, str]] = {
    "unit": ("数量和单位分开填: 在 数量 填 {number}, 在 单位 填 {unit}",
             "put the number and the unit apart: {number} in qty, {unit} in unit"),
    "comma": ("小数请用小数点: 写成 {dotted}", "use a decimal point: {dotted}"),
    "text": ("请只填数字, 如 {number}, 不要带单位或文字", "type the number only, such as {number}, without units or words"),
    "other": ("请只填数字, 如 12 或 1.5", "type digits only, such as 12 or 1.5"),
}

UNKNOWN_FIXES: dict[str, tuple[str, str, str]] = {  # ref → its form, what it holds (zh, en)
    "items": ("items.xlsx", "物料", "items"),
    "warehouses": ("warehouses.xlsx", "仓库", "warehouses"),
    "suppliers": ("suppliers.xlsx", "供应商", "suppliers"),
    "customers": ("customers.xlsx", "客户", "customers"),
}


def unknown_code_fix(ref: str, none_yet: bool) -> dict[str, str]:
    """How to fix an unknown code: register it; on a ledger with none of its kind yet,
    master data goes first."""
    form, zh, en = UNKNOWN_FIXES[ref]
    if none_yet:
        return {"fix_zh": f"{zh}表里还没有任何{zh}: 先放入 {form} ({zh}表) 并等它过账, 再重新放入本文件",
                "fix": f"the ledger has no {en} yet: drop {form} (the {en} form) first, let it post, then drop this file again"}
    return {"fix_zh": f"请先在{zh}表 {form} 登记 (填好后放入收件箱), 或从下拉框选择已登记的编码",
            "fix": f"register it in the {en} form {form} first (drop that into the inbox), or pick a registered code from the dropdown"}


def not_a_number_fix(how: str, **params: str) -> dict[str, str]:
    zh, en = NOT_A_NUMBER_FIXES[how]
    return {"fix_zh": zh.format(**params), "fix": en.format(**params)}


def problem(code: str, /, where: str = "", value: object = "", **params: object) -> Problem:
    zh, en = CATALOGUE[code]
    params = {**_default_fix(code), **params}
    shown = "" if value is None else str(value)
    return Problem(where, code, zh.format(**params), en.format(**params), shown)


def _default_fix(code: str) -> dict[str, str]:
    """The fix of a code whose fix depends on what was seen, when the caller named none."""
    if code == "not-a-number":
        return not_a_number_fix("other")
    ref = code.removeprefix("unknown-")
    return unknown_code_fix(ref, False) if ref in UNKNOWN_FIXES else {}
