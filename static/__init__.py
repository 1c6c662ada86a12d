"""The web UI (`ui/`), the API reference page (`docs/`) and the vendored Swagger UI
(`vendor/`): plain files, no build step, no code.

A package only so that the files are installed with the code (setup.cfg's
`package_data`) and found wherever they were installed: `handlers.ui.static_root()`
asks `importlib.resources` for this package's directory, so a wheel, an editable
install and a clone all serve the same files.
"""
