"""What each console page shows, read from the station and put in an office
person's words (translated and formatted by a :class:`~station_agent.i18n.Speaker`).

Values are handed to the templates as plain text or numbers; the templates
escape everything (Jinja2 autoescaping).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from station_agent import clock
from station_agent.faults.codes import describe, title
from station_agent.i18n import N_, Speaker
from station_agent.ledger import LedgerRefused, model

if TYPE_CHECKING:
    from station_agent.console.app import Backend

SEVERITY_LABELS = {"info": N_("info"), "warning": N_("warning"), "error": N_("error"),
                   "critical": N_("critical")}
CATEGORY_LABELS = {
    model.CHIP_FAILED: N_("chip failed"), model.PRINT_DEFECT: N_("print defect"),
    model.DAMAGED: N_("physically damaged"), model.JAM: N_("jammed, removed by hand"),
    model.OTHER: N_("other (say what in the reason)"),
}
OUTCOME_LABELS = {"issued": N_("issued"), "spoiled": N_("spoiled"), "lost": N_("lost"),
                  "voided": N_("voided after issue"), None: N_("open")}
NETWORK_LABELS = {"ok": N_("reachable"), "slow": N_("slow"), "down": N_("unreachable"),
                  "unknown": N_("not checked yet")}
UPLINK_LABELS = {"connected": N_("connected"), "disabled": N_("not configured"),
                 "connecting": N_("connecting"), "disconnected": N_("disconnected"),
                 "stopped": N_("stopped")}


class View:
    """Page contexts from a :class:`~station_agent.console.app.Backend`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @staticmethod
    def today_date() -> str:
        """The office's date today (``YYYY-MM-DD``)."""
        return clock.local_now().date().isoformat()

    def today(self, sp: Speaker) -> dict[str, Any]:
        """The Today page: stock, today's figures, faults, printers, server, uplink."""
        status = self.backend.call("status", {})
        day = self.backend.call("today", {})
        stock = status["stock"]
        faults = [{
            "title": sp.gettext(title(f["code"])),
            "severity": f["severity"],
            "severity_label": sp.gettext(SEVERITY_LABELS.get(f["severity"], f["severity"])),
            "source": f["source"], "since": sp.datetime(f["raised_at"]),
            "todo": sp.gettext(describe(f["code"])[1]),
        } for f in status["faults"]]
        outage_minutes = sum(_minutes(o["started_at"], o["ended_at"]) for o in day["outages"])
        net = status["network"]
        up = status["uplink"]
        return {
            "stock": stock["stock"], "stock_text": sp.number(stock["stock"]),
            "low": stock["low_threshold"] is not None and stock["stock"] < stock["low_threshold"],
            "low_threshold": sp.number(stock["low_threshold"]),
            "days_left": sp.number(day["days_left"], 1) if day["days_left"] is not None else None,
            "run_out": sp.date(day["run_out"]) if day["run_out"] else None,
            "rate": sp.number(day["rate_per_day"], 1),
            "date": sp.date(day["date"]),
            "figures": [(sp.gettext(label), sp.number(value)) for label, value in (
                (N_("issued today"), day["issued"]),
                (N_("spoiled today"), day["spoiled"] + day["voided"]),
                (N_("lost today"), day["lost"]),
                (N_("received today"), day["received"]))],
            "balances": [(sp.gettext(model.ACCOUNT_LABELS[a]), sp.number(status["balances"][a]))
                         for a in ("in_printer", "spoiled_held")],
            "faults": faults,
            "printers": [self._device(d, sp) for d in status["devices"]],
            "supplies": [{
                "kind": k["kind"], "stock": sp.number(k["stock"]), "low": k["low"],
                "days_left": (sp.number(k["days_left"], 1) if k["days_left"] is not None
                              else None),
                "request": sp.number(k["request_quantity"]),
                "units": [{"printer": u["printer"], "cards": sp.number(u["cards"]),
                           "since": sp.datetime(u["installed_at"])} for u in k["in_printers"]],
            } for k in status.get("supplies") or []],
            "network": {
                "configured": bool(net["probe_url"]),
                "state": sp.gettext(NETWORK_LABELS.get(net["state"], net["state"])),
                "ok": net["state"] == "ok",
                "outages": sp.number(len(day["outages"])),
                "minutes": sp.number(outage_minutes),
            },
            "uplink": {
                "state": sp.gettext(UPLINK_LABELS.get(up["state"], up["state"])),
                "backlog": sp.number(up.get("backlog") or 0),
                "oldest": sp.datetime(up["oldest_unsent"]) if up.get("oldest_unsent") else None,
            },
            "updated": sp.time(clock.now_utc()),
        }

    @staticmethod
    def _device(d: dict[str, Any], sp: Speaker) -> dict[str, Any]:
        online = d.get("online")
        state = (N_("not checked yet") if online is None else N_("ready") if online
                 else N_("not answering"))
        markers = (d.get("cups") or {}).get("markers") or []
        levels = [{"name": m["name"], "level": f"{m['level']}%"} for m in markers
                  if isinstance(m.get("level"), int) and m["level"] >= 0]
        if d.get("ribbon_left") is not None:   # a driven printer's own ribbon counter
            levels.append({"name": sp.gettext(N_("Ribbon")),
                           "level": sp.gettext(N_("{n} prints left")).format(
                               n=sp.number(d["ribbon_left"]))})
        return {
            "id": d["id"], "kind": d["kind"], "ok": bool(online),
            "state": sp.gettext(state),
            "conditions": [sp.gettext(title(c)) for c in d.get("conditions") or []],
            "supplies": levels,
        }

    def jobs(self, sp: Speaker) -> dict[str, Any]:
        """The Jobs page: today's jobs and every open one."""
        today = self.backend.call("jobs", {"date": self.today_date()})["jobs"]
        open_jobs = self.backend.call("jobs", {"open": True})["jobs"]
        seen = {j["job_id"] for j in today}
        rows = [*today, *(j for j in open_jobs if j["job_id"] not in seen)]
        rows.sort(key=lambda j: j["created_at"] or "", reverse=True)
        return {
            "jobs": [{
                "job_id": j["job_id"], "printer": j["printer"] or j["queue"] or "-",
                "started": sp.datetime(j["created_at"]) if j["created_at"] else "-",
                "cards": sp.number(j["cards"]),
                "outcome": sp.gettext(OUTCOME_LABELS.get(j["outcome"], N_("mixed"))),
                "open": j["open"], "voidable": j["outcome"] == "issued",
                "category": (sp.gettext(CATEGORY_LABELS[j["category"]])
                             if isinstance(j["category"], str)
                             and j["category"] in CATEGORY_LABELS else ""),
            } for j in rows],
            "categories": [(c, sp.gettext(label)) for c, label in CATEGORY_LABELS.items()],
            "outcomes": [(o, sp.gettext(OUTCOME_LABELS[o])) for o in ("issued", "spoiled",
                                                                       "lost")],
        }

    def blanks(self, sp: Speaker) -> dict[str, Any]:
        """The Blanks page: every balance."""
        b = self.backend.call("blanks", {})
        return {"accounts": [(sp.gettext(model.ACCOUNT_LABELS[a]), sp.number(b[a])) for a in (
            "stock", "in_printer", "issued", "spoiled_held", "spoiled_disposed", "lost")],
            "received": sp.number(b["received"]), "adjusted": sp.signed(b["adjusted"]),
            "entries": sp.number(b["entries"]), "entries_count": b["entries"]}

    def supplies(self, sp: Speaker) -> dict[str, Any]:
        """The Supplies page: each ``[[supply]]`` kind's units and outlook, and
        what the forms offer (kinds, the printers they fit)."""
        kinds = self.backend.call("supplies", {})["kinds"]
        printers = sorted({pr for k in kinds for pr in k["printers"]})
        return {
            "kinds": [{
                "kind": k["kind"], "low": k["low"],
                "stock": sp.number(k["stock"]), "installed": sp.number(k["installed"]),
                "finished": sp.number(k["finished"]),
                "written_off": sp.number(k["written_off"]),
                "days_left": (sp.number(k["days_left"], 1) if k["days_left"] is not None
                              else None),
                "request": sp.number(k["request_quantity"]),
                "units": [{"printer": u["printer"], "cards": sp.number(u["cards"]),
                           "since": sp.datetime(u["installed_at"])}
                          for u in k["in_printers"]],
            } for k in kinds],
            "kind_names": [k["kind"] for k in kinds],
            "printers": printers,
        }

    @staticmethod
    def refusal(exc: LedgerRefused, sp: Speaker) -> str:
        """A ledger refusal in the office's language (its English text otherwise)."""
        if exc.text is None:
            return str(exc)
        shown: dict[str, object] = {}
        for key, value in exc.fields.items():
            if key == "kind":
                shown[key] = sp.gettext(model.KIND_LABELS.get(str(value), str(value)))
                shown[key] = str(shown[key])[:1].upper() + str(shown[key])[1:]
            elif key == "account":
                shown[key] = sp.gettext(model.ACCOUNT_LABELS.get(str(value), str(value)))
            elif isinstance(value, int) and not isinstance(value, bool):
                shown[key] = sp.number(value)
            else:
                shown[key] = value
        return str(sp.gettext(exc.text).format(**shown))


def _minutes(start: str, end: str | None) -> int:
    a = datetime.fromisoformat(start.replace("Z", "+00:00"))
    b = (datetime.fromisoformat(end.replace("Z", "+00:00")) if end
         else clock.now().astimezone(a.tzinfo))
    return max(0, round((b - a).total_seconds() / 60))

