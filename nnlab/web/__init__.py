"""The workbench: job store, worker queue, REST API and server-rendered pages (``nnlab serve``)."""
