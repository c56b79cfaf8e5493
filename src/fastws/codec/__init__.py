"""The JSON codec of ``send_json``/``receive_json``: compiled ``_json_c`` and pure-Python
``_json_py`` twins, the selector ``_json`` that picks one, the backend probe ``_backend`` (orjson or
the standard library) and the ``max_json_size`` limit (``_limits``)."""
