"""Configuration: YAML files under ``config/`` loaded into typed, frozen objects.

``model`` holds the frozen structs (pure; engines take them directly), ``loader`` reads and
cross-checks the files, ``yamlnodes`` keeps line numbers for error messages.
"""

from callcenter.config.loader import DEFAULT_CONFIG_PATH, load_config
from callcenter.config.model import CenterConfig

__all__ = ["DEFAULT_CONFIG_PATH", "CenterConfig", "load_config"]
