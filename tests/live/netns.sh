#!/bin/sh
# Runs "$@" in a private network namespace with only loopback: the fixture's API servers
# dial webhook and pod addresses that exist nowhere; there they fail at once instead of
# leaving the machine. Where namespaces are not allowed (an unprivileged container), the
# command runs as it is: everything still listens on loopback only, and webhooks fail open.
if command -v ip >/dev/null && unshare --net true 2>/dev/null; then
  exec unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
echo "netns.sh: no private network namespace here; running on the host network" >&2
exec "$@"
