"""A real local Kubernetes control plane for logos-doctor's tests, and the Logos stack.

Modules: `cluster` (up/down/status of etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok and the stand-in provisioner), `nodes` (fake kwok nodes),
`provisioner` (stand-in for the EBS CSI external provisioner), `logos_stack` (the Logos
deployment as fixtures, and fault injectors), `kube` (client helpers).
CLI: `scripts/testcluster up|down|status|env|seed logos [--namespace NS]`.

Reserved image names
--------------------
kwok's fake kubelets run every pod (stock stages: Running and Ready) except those whose
container image is one of these, for which our stages in `stages/` act like kubelet 1.37
with containerd (`<ref>` is the image with `:latest` appended when it has no tag):

=================================================  ==========================================
image                                              pod / container state
=================================================  ==========================================
registry.logos-test.invalid/notfound/<repo>[:tag]  Pending; ErrImagePull then ImagePullBackOff,
                                                   "rpc error: code = NotFound desc = failed to
                                                   pull and unpack image "<ref>": failed to
                                                   resolve reference "<ref>": <ref>: not found"
registry.logos-test.invalid/unauthorized/<repo>..  same, "failed to pull and unpack image ...:
                                                   failed to resolve reference ...: failed
                                                   to authorize:
                                                   failed to fetch anonymous token: unexpected
                                                   status from GET request to https://registry.
                                                   logos-test.invalid/token?scope=repository%3A
                                                   <repo>%3Apull&service=registry.logos-test.
                                                   invalid: 401 Unauthorized"
registry.logos-test.invalid/denied/<repo>[:tag]    same, "...: pull access denied, repository does
                                                   not exist or may require authorization: server
                                                   message: insufficient_scope: authorization
                                                   failed"
unreachable.logos-test.invalid/<repo>[:tag]        same, "...: failed to do request: Head "https://
                                                   unreachable.logos-test.invalid/v2/<repo>/
                                                   manifests/<tag>": dial tcp: lookup unreachable.
                                                   logos-test.invalid on 127.0.0.53:53: no such
                                                   host"
registry.logos-test.invalid/crashloop/<repo>..     Running, not Ready; waiting CrashLoopBackOff,
  or any image with tag `crashloop`                lastState terminated exitCode 1 reason Error,
                                                   restartCount 1 growing to 5 (one per 5s)
registry.logos-test.invalid/oomkilled/<repo>..     same with exitCode 137 reason OOMKilled
=================================================  ==========================================

Events (source component kubelet, host = node; involvedObject fieldPath
`spec.containers{<name>}`), for an image-pull fault, in order:
  Normal  Pulling  Pulling image "<image>"
  Warning Failed   Failed to pull image "<image>": <the rpc error above>
  Warning Failed   Error: ErrImagePull
  Normal  BackOff  Back-off pulling image "<image>"
  Warning Failed   Error: ImagePullBackOff
and the container's waiting message is the rpc error (ErrImagePull), then
`Back-off pulling image "<image>": ErrImagePull: <rpc error>` (ImagePullBackOff), as
kubelet >= 1.32 writes it. For a crash loop:
  Normal  Pulled   Container image "<image>" already present on machine
  Normal  Created  Container created
  Normal  Started  Container started
  Warning BackOff  Back-off restarting failed container <name> in pod <pod>_<ns>(<uid>)
     (one event whose count follows restartCount)
with waiting message `back-off 10s restarting failed container=<name> pod=<pod>_<ns>(<uid>)`
(10s, 20s, 40s, 1m20s, 2m40s as restarts grow).
`logos_stack.bad_image(image, kind)` builds these names, with a path segment after the
reserved prefix whose words belong to another cause (`notfound/forbidden-api/...`,
`unauthorized/x509-certificate-exporter/...`, `denied/mirror-429/...`,
`unreachable.../mirror-429/...`), so that a checker classifying on names would fail.
"""

from .cluster import (  # noqa: F401
    ClusterError,
    down,
    ensure_up,
    is_up,
    kubeconfig_path,
    status,
    up,
)
from .kube import api_client, wait_for  # noqa: F401
