"""Scraping a node's metrics listener, and checking the exposition with Prometheus's promtool.

`promtool check metrics` (Debian package `prometheus`) is the reference
check of the text format and of Prometheus's naming conventions.  When it is
not installed the tests that need it skip, except under CI, where `.ci/run`
installs it and a missing binary is a failure.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.tools import need_tool


class PromtoolMissing(RuntimeError):
    """Raised when promtool is not installed."""


def promtool_binary() -> str:
    """Return promtool's path; raise PromtoolMissing saying how to install it."""
    found = shutil.which("promtool")
    if found is None:
        raise PromtoolMissing("promtool is not installed: as root, `apt-get install -y "
                              "prometheus`")
    return found


def need_promtool() -> None:
    """Skip the calling test when promtool is not installed (fail instead under CI)."""
    need_tool(promtool_binary, PromtoolMissing)


def promtool_problems(exposition: str) -> str:
    """Return what `promtool check metrics` says of `exposition` ("" when it passes)."""
    done = subprocess.run([promtool_binary(), "check", "metrics"], input=exposition,
                          capture_output=True, text=True, timeout=30)
    said = (done.stdout + done.stderr).strip()
    return said if done.returncode != 0 or said else ""


@dataclass(frozen=True)
class Scrape:
    """One scrape: the exposition text, and each sample's value by name and labels."""

    text: str
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        """Return the sample `name{labels}`; raise KeyError if the node did not report it."""
        return self.samples[(name, frozenset(labels.items()))]

    def get(self, name: str, default: float = 0.0, **labels: str) -> float:
        """Return the sample `name{labels}`, or `default` if it is absent."""
        return self.samples.get((name, frozenset(labels.items())), default)

    def labelled(self, name: str, label: str) -> dict[str, float]:
        """Return {label value: sample} for every sample of `name`."""
        return {dict(key)[label]: value for (sample, key), value in self.samples.items()
                if sample == name and label in dict(key)}


def scrape(url: str) -> Scrape:
    """GET a metrics URL and parse its exposition."""
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Scrape(answer.text, samples)
