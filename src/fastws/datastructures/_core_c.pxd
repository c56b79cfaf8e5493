# C-level entry points of the compiled datastructures, for the compiled WebSocket (cimport).

cdef class Headers:
    cdef public object _list
    cdef object _find(self, key)

cdef class QueryParams:
    cdef public list _list
    cdef public dict _dict

cdef Headers headers_from_scope(object scope)
cdef QueryParams query_params_from_bytes(object query_string)
cpdef dict parse_cookie(object cookie_string)
cpdef str url_from_scope(object scope)
