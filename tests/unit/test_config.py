"""Config: Logos defaults, YAML overrides, Helm values, and one clear error per mistake."""

from pathlib import Path

import pytest

from logos_doctor.config import Config, load_config
from logos_doctor.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "logos-doctor.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_the_production_guide(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    config = load_config()
    sc = config.storage_class
    assert (sc.name, sc.provisioner, sc.volume_binding_mode) == (
        "ssd-premium", "ebs.csi.aws.com", "WaitForFirstConsumer")
    assert dict(sc.parameters) == {"type": "gp3", "iops": "3000", "throughput": "125",
                                   "encrypted": "true"}
    assert sc.allow_volume_expansion and sc.reclaim_policy == "Delete"
    sizes = {c.statefulset: c.size for c in config.claims}
    assert sizes == {"logos-postgresql": "200Gi", "logos-redis-master": "50Gi"}
    assert config.namespace == "logos"


def test_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = write(tmp_path, "namespace: logos-staging\nstorageClass:\n  name: fast\n"
                 "  parameters: {iops: 6000}\nthresholds: {provisionerWaitSeconds: 60}\n")
    config = load_config(path)
    assert config.namespace == "logos-staging"
    assert config.storage_class.name == "fast"
    assert config.storage_class.parameters == {"iops": "6000"}
    assert config.storage_class.provisioner == "ebs.csi.aws.com"
    assert config.provisioner_wait_seconds == 60


def test_current_directory_file_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write(tmp_path, "namespace: from-cwd\n")
    monkeypatch.chdir(tmp_path)
    assert load_config().namespace == "from-cwd"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("namespce: logos\n", "unknown key 'namespce'"),
        ("namespace: ../../api/v1\n", "is not a namespace name"),
        ("storageClass: {provisoner: x}\n", "unknown key storageClass.'provisoner'"),
        ("storageClass: fast\n", "key storageClass must be a mapping, not string"),
        ("claims: [{statefulSet: a, template: b, size: 1Gi}]\n",
         "claims[0].storageClass is required"),
        ("gpu: {labels: [nvidia.com/gpu]}\n", "gpu.labels must be a list of 'key=value'"),
        ("severity: {pvc-pending: fatal}\n",
         "severity.pvc-pending must be critical, warning or info"),
        ("[1, 2\n", "is not valid YAML at line"),
        ("- a\n- b\n", "must be a mapping at the top level"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert expected in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


def test_helm_values_derive_expectations(tmp_path: Path) -> None:
    values = write(tmp_path, """
storageClass: {create: true, name: ssd-premium, provisioner: ebs.csi.aws.com,
               type: io2, iops: "8000"}
postgresql: {primary: {persistence: {size: 500Gi, storageClass: ssd-premium}}}
redis: {master: {persistence: {size: 80Gi}}}
web: {replicaCount: 3}
""", "values-production.yaml")
    config = load_config(values=values, path=write(tmp_path, "{}\n"))
    assert config.storage_class.parameters["type"] == "io2"
    assert config.storage_class.parameters["iops"] == "8000"
    assert config.storage_class.parameters["throughput"] == "125"
    sizes = {c.statefulset: (c.template, c.size) for c in config.claims}
    assert sizes["logos-postgresql"] == ("data", "500Gi")
    assert sizes["logos-redis-master"] == ("redis-data", "80Gi")


def test_helm_values_with_wrong_shape(tmp_path: Path) -> None:
    values = write(tmp_path, "postgresql: {primary: {persistence: 12}}\n", "v.yaml")
    with pytest.raises(ConfigError, match=r"postgresql\.primary\.persistence must be a mapping"):
        load_config(values=values, path=write(tmp_path, "{}\n"))


def test_manifest_matches_expectation() -> None:
    manifest = Config().storage_class.manifest()
    assert manifest["provisioner"] == "ebs.csi.aws.com"
    assert manifest["volumeBindingMode"] == "WaitForFirstConsumer"
    assert manifest["parameters"]["encrypted"] == "true"
