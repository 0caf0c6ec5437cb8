"""Backups of running configurations, laid out for git (as Oxidized does).

Per endpoint, ``DIR/<id>.cfg`` holds the raw running configuration as the
device printed it and ``DIR/<id>.json`` the vendor-neutral settings (sorted
keys, two-space indent, trailing newline).  Nothing volatile (no timestamp)
goes into either file, and a file is only rewritten when its content changed,
so that a git commit of DIR shows exactly what changed on the fleet.

A device that fetches its settings (Yealink) also gets its provisioning file
rewritten to what it runs (``Driver.settled``), so that after a backup every such
room finds its file when it reboots.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from inventory import Endpoint, vendors
from vcfleet.outfile import write_if_changed
from vcfleet.push.driver import (
    DriverOptions,
    PushError,
    RunningConfig,
    Unreachable,
    cannot_check,
    supported,
)
from vcfleet.push.drivers import make_driver
from vcfleet.push.engine import internal_error


@dataclass
class BackupResult:
    """One endpoint's backup: ``saved``, ``unreachable``, ``failed`` or ``skipped``."""

    endpoint: Endpoint
    status: str
    error: str | None = None
    changed: bool = False
    """Whether a file's content differs from what DIR held before."""
    duration_s: float = 0.0


def neutral_settings(vendor: str, native: dict[str, str]) -> dict[str, str | bool]:
    """Native settings as neutral keys and values (settings the device lacks left out)."""
    out: dict[str, str | bool] = {}
    for key, setting in vendors.SETTINGS.items():
        name = setting.native.get(vendor)
        if name is not None and name in native:
            out[key] = vendors.neutral_value(vendor, setting, native[name])
    return out


def normalised_json(endpoint: Endpoint, config: RunningConfig) -> str:
    """The ``<id>.json`` text: stable order and formatting, trailing newline."""
    doc = {"endpoint": endpoint.id, "vendor": endpoint.vendor,
           "settings": neutral_settings(endpoint.vendor, config.settings)}
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


async def backup_endpoint(endpoint: Endpoint, options: DriverOptions, out_dir: Path
                          ) -> BackupResult:
    """Read one endpoint's running configuration and write its two files; never raises."""
    start = time.monotonic()
    reason = supported(endpoint, options) or cannot_check(endpoint, options)
    if reason is not None:
        return BackupResult(endpoint, "skipped", reason)
    try:
        return await _backup(endpoint, options, out_dir, start)
    except Exception as exc:  # a bug must cost this endpoint its result, not the whole backup
        return BackupResult(endpoint, "failed", internal_error(exc),
                            duration_s=time.monotonic() - start)


async def _backup(endpoint: Endpoint, options: DriverOptions, out_dir: Path, start: float
                  ) -> BackupResult:
    driver = make_driver(endpoint, options)
    budget = options.deadlines.endpoint_s
    try:
        async with asyncio.timeout(budget):
            await driver.connect()
            config = await driver.read()
            try:
                await driver.settled()  # a provisioned device's file: what it runs
            except PushError as exc:
                return BackupResult(endpoint, "failed", str(exc),
                                    duration_s=time.monotonic() - start)
    except Unreachable as exc:
        return BackupResult(endpoint, "unreachable", str(exc), duration_s=time.monotonic() - start)
    except TimeoutError:
        return BackupResult(endpoint, "unreachable", f"no configuration within {budget:g} s",
                            duration_s=time.monotonic() - start)
    except PushError as exc:
        return BackupResult(endpoint, "failed", f"reading configuration: {exc}",
                            duration_s=time.monotonic() - start)
    finally:
        await driver.close()
    raw = config.raw if config.raw.endswith("\n") else config.raw + "\n"
    changed = write_if_changed(out_dir / f"{endpoint.id}.cfg", raw)
    changed |= write_if_changed(out_dir / f"{endpoint.id}.json", normalised_json(endpoint, config))
    return BackupResult(endpoint, "saved", changed=changed, duration_s=time.monotonic() - start)


async def run_backup(endpoints: Sequence[Endpoint], options: DriverOptions, out_dir: Path,
                     concurrency: int = 32,
                     on_result: Callable[[BackupResult], None] | None = None
                     ) -> list[BackupResult]:
    """Back up every endpoint (bounded concurrency); results in the order given."""
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before any I/O)
    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(e: Endpoint) -> BackupResult:
        async with sem:
            result = await backup_endpoint(e, options, out_dir)
        if on_result is not None:
            on_result(result)
        return result

    return list(await asyncio.gather(*(one(e) for e in endpoints)))
