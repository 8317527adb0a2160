"""The words of the web faces (desk, chat, wallboard, login) in message catalogues: one
JSON file per language under ``catalogues/``, served to browsers at ``/api/v1/i18n/{language}``
and read by ``static/i18n.js`` (docs/i18n.md)."""
