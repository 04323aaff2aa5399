"""Sets ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` (unless you set it) before gcsfs is imported:
gcsfs reads it once, at import, and otherwise probes every bucket over gRPC (see
:mod:`objstore.backends.gcs`). Imported by the GCS backend and by objstore's gcsfs subclass."""

import os

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
