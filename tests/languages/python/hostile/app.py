"""A careless Python transform: `apply` misbehaves as its configuration's `do` says."""

import os
import sys

import ferry_plugin as ferry

import random

MANIFEST = ferry.Manifest(name="py-hostile", version="0.1.0", description="Misbehaves on request.",
                          memory_mib=256)


class Analyzer:
    def __init__(self, config, schema):
        self.do = config.get("do", "nothing")

    def update(self, batch):
        pass

    def finish(self):
        return {"do": self.do}


class Transformer:
    def __init__(self, config, state):
        self.do = state["do"]

    def apply(self, batch):
        if self.do == "raise":
            raise ValueError("a careless plugin raised")
        if self.do == "keyerror":
            return {}["missing"]
        if self.do == "exit":
            sys.exit(3)
        if self.do == "stdlib":
            return os.environ["FERRY_SURELY_NOT_SET"]
        if self.do == "random":
            return random.random()
        if self.do == "loop":
            while True:
                pass
        if self.do == "hog":
            hog = []
            while True:
                hog.append(bytearray(16 << 20))
        if self.do == "bad-return":
            return 42
        if self.do == "bad-column":
            return [ferry.Column.float64("x", [1.0])]
        return ferry.Batch(len(batch), [])


def output_schema(config, schema):
    return []


Plugin, Transform = ferry.transform(MANIFEST, Analyzer, Transformer, output_schema)
