"""{{name}}: a deployer. Writes each version's artifacts under the granted `/deploy` folder and
keeps which version is live, and the history a rollback returns to, in a state file."""

import os

import ferry_plugin as ferry

DEPLOY_DIR = "/deploy"

MANIFEST = ferry.Manifest(
    name="{{name}}",
    version="0.1.0",
    description="{{description}}",
    license="Apache-2.0",
    keywords=["deploy"],
    directories=[ferry.Directory(DEPLOY_DIR, writable=True, purpose="where deployments are written")],
    config_schema={{schema}},
)


def folder(name):
    ferry.check_segment("deployment name", name)
    ferry.require_granted(DEPLOY_DIR)
    return f"{DEPLOY_DIR}/{name}"


def plan(target):
    ferry.check_segment("model version", target.model_version)
    versions = f"{folder(target.name)}/versions/{target.model_version}"
    return [f"write {versions}/{a.path}" for a in target.artifacts] + [f"make version {target.model_version} live"]


def apply(target):
    ferry.check_segment("model version", target.model_version)
    keep = ferry.config.get(target.settings, "keep", int, 10)
    base = folder(target.name)
    versions = f"{base}/versions/{target.model_version}"
    for a in target.artifacts:
        for segment in a.path.split("/"):
            ferry.check_segment("artifact path", segment)
        path = f"{versions}/{a.path}"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        ferry.write_atomically(path, a.contents)
    os.makedirs(base, exist_ok=True)
    state = ferry.TargetState.load(f"{base}/state.json")
    state.promote(target.model_version, keep)
    state.save(f"{base}/state.json")
    return state.status(target.name, state.summary())


def status(name, settings):
    state = ferry.TargetState.load(f"{folder(name)}/state.json")
    return state.status(name, state.summary())


def rollback(name, settings):
    path = f"{folder(name)}/state.json"
    state = ferry.TargetState.load(path)
    left, back = state.step_back(name)
    state.save(path)
    return state.status(name, f"rolled back from {left} to {back}")


Plugin, Deployer = ferry.deployer(MANIFEST, plan, apply, status, rollback)
