"""HTTP handlers, one module per resource family; `micropim.make_app` routes to them."""
