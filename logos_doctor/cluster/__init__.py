"""The cluster room: everything between an API server (or a snapshot file) and a
``ClusterState``.

``kinds`` names what can be listed and where; ``connection`` loads credentials the way
kubectl does; ``fetch`` does one paginated LIST per kind, concurrently, and ``redact`` drops
Secret and ConfigMap values the moment an object is parsed; ``schema`` checks a snapshot's
objects have the API's shapes; ``snapshot`` saves and loads runs; ``collect`` is what commands
call to get a state, live or offline.  Nothing here knows a check: the flow only leaves this
room, as a ``ClusterState``.
"""
