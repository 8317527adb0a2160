"""Configuration: YAML files under ``config/`` loaded into typed, frozen objects.

``sections`` holds the frozen structs (pure; engines take them directly), with the
sections of the adapters beside it (``crm``, ``speech``, ``telephony``, ``recordings``);
``hours`` reads opening hours; ``loader`` reads and cross-checks the files and
``yamlnodes`` keeps line numbers for error messages. Nothing is imported here, so that an
engine taking its config types does not load the YAML reader.
"""
