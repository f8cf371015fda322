# Builds its DAGs through a helper module and never names the platform itself, so safe mode skips it.
from compat_dag_helpers import build

build("c_factory_made", globals())
