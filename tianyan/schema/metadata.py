"""Every domain's tables in one MetaData, for migrations and for creating test schemas."""

from tianyan.db.base import Base
from tianyan.gb28181 import models as _gb28181  # noqa: F401
from tianyan.health import models as _health  # noqa: F401
from tianyan.media import models as _media  # noqa: F401
from tianyan.registry import models as _registry  # noqa: F401
from tianyan.security import models as _security  # noqa: F401

metadata = Base.metadata
