"""device_python/package.json (what `mpremote mip install` copies) lists exactly the app's modules."""

import json

from mpy_mnist import paths


def test_package_json_lists_every_module_of_the_app():
    package = json.loads((paths.DEVICE_PYTHON_DIR / "package.json").read_text())
    listed = {target for target, _ in package["urls"]}
    assert all(target == source for target, source in package["urls"]), "relative URLs mirror the targets"
    on_disk = {str(p.relative_to(paths.DEVICE_PYTHON_DIR)) for p in paths.DEVICE_PYTHON_DIR.glob("*/*.py")}
    assert listed == on_disk
