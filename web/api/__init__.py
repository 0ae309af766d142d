"""The ``/api/v1`` blueprints, one module per resource."""
