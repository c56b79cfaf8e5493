# C-level entry points of the compiled JSON codec, for the compiled WebSocket (cimport).
cpdef object encode_json_text(object obj)
cpdef object encode_json_bytes(object obj)
cpdef object decode_json_text(object text)
cpdef object decode_json_bytes(object data)
