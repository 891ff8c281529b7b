"""Renderings of the plan document: plain text for terminals, Markdown for pull requests.

The Markdown is made for a PR comment or a job summary: a summary line first, the approval
checklist, then details in collapsible sections; spec text is escaped and the whole stays
under GitHub's comment limit (65,536 characters), truncated with a note when it would not.
"""

from __future__ import annotations

import json

MAX_MARKDOWN = 60_000  # below GitHub's 65,536-character comment limit, with room for a footer

_ICON = {"breaking": "🔴", "risky": "🟡", "safe": "🟢"}


def _md(text: object) -> str:
    """Spec text for Markdown (the docs target's escaping), with `@` kept from mentioning."""
    from compiler.render.docs import md

    return md(text).replace("@", "@\u200b")


def _code(text: object) -> str:
    inner = " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")
    return f"`{inner}`"


def _val(value: object) -> str:
    """A value on one line: control and bidi characters shown as escapes.

    They are never obeyed by the terminal or the browser.
    """
    from compiler.diagnostics import safe_text

    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else value
    text = safe_text(text)
    return text if len(text) <= 80 else text[:77] + "..."


def summary_line(plan: dict) -> str:
    s = plan["summary"]
    if plan["summary"].get("invalid") and not plan["resource_changes"]:
        return "The head does not validate; nothing could be planned."
    if not (plan["resource_changes"] or plan["generated_changes"] or s.get("data") or s.get("versions")
            or s.get("drift")):
        return "No changes."
    parts = [f"{s[k]} to {v}" for k, v in (("create", "add"), ("update", "change"), ("delete", "remove"),
                                           ("rename", "rename"), ("move", "move")) if s[k]]
    risk = ", ".join(f"{s[k]} {k}" for k in ("breaking", "risky", "safe") if s[k])
    line = f"{', '.join(parts) or 'no spec changes'}" + (f" ({risk})" if risk else "")
    line += f"; {s['generated_files']} generated file(s) change"
    for key, what in (("data", "data source(s) changed"), ("versions", "model version(s) change"),
                      ("drift", "generated file(s) drifted")):
        if s.get(key):
            line += f"; {s[key]} {what}"
    if plan.get("maturity_changes"):
        line += "; maturity level " + ", ".join(
            f"{m['model']} {'none' if m['from'] is None else m['from']} -> {m['to']}" for m in plan["maturity_changes"])
    if s.get("unknown"):
        line += f"; {s['unknown']} spec(s) not readable"
    if s.get("invalid"):
        line += "; the head does not validate (exit 1)"
    return line + "."


def _change_lines(res: dict) -> list[str]:
    out = []
    for c in res["changes"]:
        if c["op"] == "change":
            out.append(f"{c['path']}: {_val(c['before'])} -> {_val(c['after'])}")
        elif c["op"] == "add":
            out.append(f"{c['path']}: added {_val(c['after'])}")
        else:
            out.append(f"{c['path']}: removed (was {_val(c['before'])})")
    return out


def _header(res: dict) -> str:
    from compiler.diagnostics import safe_text

    return safe_text(_header_text(res))


def _header_text(res: dict) -> str:
    extra = ""
    if res["action"] == "rename":
        extra = f" (renamed from {res['previous_name']})"
    elif res["previous_file"] and res["action"] in ("move", "update"):
        extra = f" (moved from {res['previous_file']})"
    return f"{res['action']} {res['address']}{extra} [{res['risk']}]"


def to_text(plan: dict) -> str:
    lines = [f"plan: {plan['head']['ref']} against {plan['base']['ref']} ({(plan['base']['sha'] or '')[:12]}, "
             f"merge base {(plan['merge_base'] or '-')[:12]})", summary_line(plan), ""]
    for res in plan["resource_changes"]:
        lines.append(_header(res))
        lines += [f"    {line}" for line in _change_lines(res)]
        lines += [f"    ! {f['rule']} {f['name']}: {f['message']}" + (f" (waived by {f['waived_by']})"
                                                                   if f.get("waived_by") else "")
                  for f in res["findings"] if f["risk"] != "safe"]
    lines += _input_lines(plan)
    for u in plan.get("unknown_resources", []):
        lines.append(f"unknown {u['address']} ({u['file']}): {u['reason']}; its change cannot be planned")
    if plan["impact"]:
        lines += ["", "impact:"]
        for model, imp in plan["impact"].items():
            lines.append(f"    {model}: {_impact_text(imp)}")
    if plan["generated_changes"]:
        lines += ["", "generated files:"]
        lines += [f"    {g['action']} {g['path']}" for g in plan["generated_changes"]]
    if plan["approvals"]:
        lines += ["", "approvals:"]
        for a in plan["approvals"]:
            mark = "x" if a["approved"] else " "
            lines.append(f"    [{mark}] {a['handle']}: {'; '.join(a['reasons'])}")
    if plan["reviewers"]:
        lines.append(f"    reviewers to request (Consulted): {', '.join(plan['reviewers'])}")
    for w in plan["waivers"]:
        lines.append(f"waiver: {w['address']} {w['gate'] or w['rule']} by {w['approver']} until {w['expires']}: "
                     f"{w['reason']}")
    for m in plan["metrics"]:
        lines += ["", f"metrics of {m['model']} (last local run vs {m['baseline_version'] or 'no baseline'}):"]
        for r in m["metrics"]:
            delta = "" if r["delta"] is None else f" ({r['delta']:+.4f})"
            window = f" [{r['window']}]" if r.get("window") else ""
            lines.append(f"    {r['metric']}{window}: {_num(r['baseline'])} -> {_num(r['candidate'])}{delta}")
    for p in plan["problems"]:
        lines.append(f"problem: {p}")
    for n in plan["notes"]:
        lines.append(f"note: {n}")
    if plan["summary"]["blocked"]:
        lines += ["", f"blocked: {plan['summary']['blocked_reason']}"]
    return "\n".join(lines).rstrip() + "\n"


def _input_lines(plan: dict) -> list[str]:
    """Data, version and drift entries, one line each (text and Markdown share them)."""
    lines = []
    for d in plan.get("data_changes", []):
        reruns = ([f"re-run {', '.join(d['models'])} from ingest"] if d["models"] else []) + (
            [f"re-run {', '.join(d['evaluated_by'])} from evaluate"] if d.get("evaluated_by") else []) + (
            [f"re-run {', '.join(d['checked_by'])} from validate"] if d.get("checked_by") else [])
        lines.append(f"data changed: DataSource/{d['source']} ({d['path']}; "
                     f"{(d['before_blob'] or 'none')[:12]} -> {(d['after_blob'] or 'none')[:12]}): "
                     f"{'; '.join(reruns)} [risky] {d.get('rule', 'P207')}")
    for v in plan.get("lock_changes", []):
        lines.append(f"{v['action']}: {v['model']} {v['from'] or 'none'} -> {v['to'] or 'none'}"
                     f"{_metric_pair(v)}; deploys {', '.join(v['deployments']) or 'nothing'} "
                     f"[risky] {v.get('rule', 'P208')}")
    for d in plan.get("drift", []):
        lines.append(f"drift: {d['path']} {d['state']} [blocking] {d.get('rule', 'P110')}")
    return lines


def _metric_pair(v: dict) -> str:
    b, a = v.get("from_metrics") or {}, v.get("to_metrics") or {}
    shown = [f"{k} {_num(b.get(k))} -> {_num(a.get(k))}" for k in sorted(set(b) | set(a))[:5]]
    return f" ({', '.join(shown)})" if shown else ""


def _impact_text(imp: dict) -> str:
    if imp["action"] == "unknown":
        return f"unknown ({imp['reason']})"
    if imp["action"] == "delete":
        return "deleted"
    return f"re-run {', '.join(imp['rerun']) or 'nothing'}" + (
        f"; deploy {', '.join(imp['deployments'])}" if imp["deployments"] else "")


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def to_markdown(plan: dict, limit: int = MAX_MARKDOWN) -> str:
    s = plan["summary"]
    head = ["## Charter plan", "",
            f"**{_md(summary_line(plan))}** Base `{(plan['base']['sha'] or '')[:12]}` "
            f"({_md(plan['base']['ref'])}), merge base `{(plan['merge_base'] or '-')[:12]}`.", ""]
    if s["blocked"]:
        head += [f"> [!CAUTION]\n> Blocked: {_md(s['blocked_reason'])}", ""]
    if plan["approvals"]:
        head += ["### Approvals", ""]
        for a in plan["approvals"]:
            head.append(f"- [{'x' if a['approved'] else ' '}] {a['handle']}: {_md('; '.join(a['reasons']))}")
        if plan["reviewers"]:
            head.append(f"- Reviewers to request (Consulted): {', '.join(plan['reviewers'])}")
        head.append("")
    body: list[str] = []
    if plan["resource_changes"]:
        body += ["### Changes", "", "| | resource | action | risk |", "| --- | --- | --- | --- |"]
        for r in plan["resource_changes"]:
            body.append(f"| {_ICON[r['risk']]} | {_md(r['address'])} | {r['action']} | {r['risk']} |")
        body.append("")
        for r in plan["resource_changes"]:
            body += [f"<details><summary>{_md(_header(r))}</summary>", "", "```text"]
            body += [line.replace("```", "'''") for line in _change_lines(r)]
            body += [f"! {f['rule']} {f['name']}: {f['message']}" for f in r["findings"]]
            body += ["```", "", "</details>", ""]
    if plan["impact"]:
        body += ["### Impact", "", "| model | re-runs | deploys |", "| --- | --- | --- |"]
        for model, imp in plan["impact"].items():
            if imp["action"] == "unknown":
                body.append(f"| {_md(model)} | unknown: {_md(imp['reason'])} | unknown |")
                continue
            body.append(f"| {_md(model)} | {', '.join(imp['rerun']) or '-'} | {', '.join(imp['deployments']) or '-'} |")
        body.append("")
    if plan["generated_changes"]:
        body += [f"<details><summary>Generated files ({len(plan['generated_changes'])})</summary>", ""]
        body += [f"- {g['action']} {_code(g['path'])}" for g in plan["generated_changes"]]
        body += ["", "</details>", ""]
    if plan["metrics"]:
        body += ["### Metrics (last local run vs base `charter.lock`)", "",
                 "| model | metric | base | candidate | delta |", "| --- | --- | --- | --- | --- |"]
        for m in plan["metrics"]:
            for r in m["metrics"]:
                delta = "" if r["delta"] is None else f"{r['delta']:+.4f}"
                metric = r["metric"] + (f" [{r['window']}]" if r.get("window") else "")
                body.append(f"| {_md(m['model'])} | {_md(metric)} | {_num(r['baseline'])} | "
                            f"{_num(r['candidate'])} | {delta} |")
        body.append("")
    if plan["waivers"]:
        body += ["### Active waivers", ""]
        body += [f"- {_md(w['address'])} {_code(w['gate'] or w['rule'])} by {_md(w['approver'])} until "
                 f"{_md(w['expires'])}: {_md(w['reason'])}" for w in plan["waivers"]]
        body.append("")
    if _input_lines(plan):
        body += ["### Data, versions and generated files", "", "```text"]
        body += [line.replace("```", "\'\'\'") for line in _input_lines(plan)]
        body += ["```", ""]
    if plan.get("unknown_resources"):
        body += ["### Not planned", ""]
        body += [f"- ⚠️ {_md(u['address'])} ({_code(u['file'])}): {_md(u['reason'])}"
                 for u in plan["unknown_resources"]]
        body.append("")
    for p in plan["problems"]:
        body.append(f"- ⚠️ {_md(p)}")
    for n in plan["notes"]:
        body.append(f"- {_md(n)}")
    text = "\n".join(head + body).rstrip() + "\n"
    if len(text) > limit:
        note = "\n_The plan is longer than a comment can hold; run `charter plan` for all of it._\n"
        cut = text[: limit - len(note)]
        cut = cut[: cut.rfind("\n") + 1]
        if cut.count("<details>") > cut.count("</details>"):
            cut += "\n```\n\n</details>\n" if cut.count("```") % 2 else "\n</details>\n"
        text = cut + note
    return text
