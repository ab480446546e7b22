"""Names `vulture` (make lint) reports as unused that something it cannot see uses.
Each entry says who uses it; delete an entry when its name goes. Never imported."""

from vulture.whitelist_utils import Whitelist

from components.control_plane import capi_objects

_ = Whitelist()

_ = (
    # kernel/compatibility.yaml names the pin (`pin: CAPA_VERSION`); kernel/compat.py reads
    # it by name, and tests/unit/test_compatibility.py checks the matrix against it.
    capi_objects.CAPA_VERSION,
    # kernel/namespaces.py PlatformNamespace.purpose: each namespace's description, read by
    # people, not code.
    _.purpose,
    # PyYAML's Emitter calls increase_indent(flow, indentless): tools/render.py's override
    # keeps that signature.
    _.indentless,
    # http.server calls do_GET and log_message on the stub API server of
    # tests/unit/test_server_version.py.
    _.do_GET,
    _.log_message,
)
