"""rumaro_lab: which visual features of an account's photos go with more likes and comments?

The flow (see README.md): posts -> features -> analysis -> reports. Each stage has its own
subpackage or module and writes its own folder under the data directory.

>>> from rumaro_lab.settings import Settings
>>> Settings(data_dir="data").posts_path("sample").as_posix()
'data/interim/sample/posts.parquet'
"""

__version__ = "0.1.0"
