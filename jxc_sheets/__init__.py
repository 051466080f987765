"""jxc-sheets: 进销存 for teams that keep working in Excel."""
__version__ = "0.1.0"
