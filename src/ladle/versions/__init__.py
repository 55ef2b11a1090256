"""Feature-set versions: ``ladle publish`` / ``versions`` / ``rollback`` (docs/operating.md).

A published feature set is ``<root>/<view>/<version>/`` (parquet and ``metadata.json``) beside a
``<root>/<view>/latest`` pointer file naming one version. :mod:`.layout` reads and writes that layout on any
filesystem, :mod:`.publish` checks data against a view's contract and writes a version, :mod:`.rollback`
moves the pointer back and makes the online store serve the older version.
"""

from ladle.versions.layout import FeatureSetRoot, VersionInfo
from ladle.versions.publish import PublishResult, load_data, publish
from ladle.versions.rollback import RollbackResult, rollback

__all__ = ["FeatureSetRoot", "PublishResult", "RollbackResult", "VersionInfo", "load_data", "publish", "rollback"]
