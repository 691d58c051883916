#!/usr/bin/env python3
"""The markdown results table of scripts/gpu_verify.sh, from its raw folder.

    python3 scripts/gpu_results.py RAW_DIR > results.md

Reads steps.tsv, machine.txt, nvidia-smi.log, the gtest XML files (test_cuda_*.xml), the Google
Benchmark JSON files (bench_cuda_*.json), the pretrain logs and attention_peer.json, whichever
exist, and prints: the steps and their status, the tests, every benchmark (TFLOP/s or GB/s, and the
ratio to cuBLAS or the fraction of the device's peak), the training run, the attention peer, and a
last section listing what did not run and why.

Peaks used for "% of peak" (measured on an H200 by this workplace's calibration, not datasheet):
bf16 dense matrix products 790 TFLOP/s, device-to-device copy 4300 GB/s (bytes read + written) —
unless a benchmark file has its own copy case (a name containing "copy" or "memcpy"), whose GB/s
is used instead.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

PEAK_BF16_TFLOPS = 790.0
PEAK_COPY_GBS = 4300.0


def read_steps(raw):
    path = raw / "steps.tsv"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) >= 3:
            rows.append(parts[:3])
    return rows


def machine_lines(raw):
    lines = []
    smi = raw / "nvidia-smi.log"
    if smi.exists():
        text = smi.read_text(errors="replace")
        m = re.search(r"Driver Version:\s*([\d.]+)", text)
        csv = [l for l in text.splitlines() if l and not l.startswith("name,") and "," in l and "|" not in l]
        if csv:
            lines.append("GPU (name, SM clock, max SM clock, memory clock, power, temperature, memory used): "
                         + csv[-1].strip())
        if m:
            lines.append("driver " + m.group(1))
    mt = raw / "machine.txt"
    if mt.exists():
        for l in mt.read_text(errors="replace").splitlines():
            if l.startswith(("cpus:", "cmake", "g++", "Python", "Cuda compilation", "Build cuda")):
                lines.append(l.strip())
    return lines


def test_rows(raw):
    rows = []
    # A test program cut off by its time limit (or crashed) writes no XML: count from its log.
    for log in sorted(raw.glob("test_cuda_*.log")):
        if (raw / (log.stem + ".xml")).exists():
            continue
        text = log.read_text(errors="replace")
        ok = len(re.findall(r"^\[       OK \]", text, re.M))
        failed = sorted(set(re.findall(r"^\[  FAILED  \] (\S+)", text, re.M)))
        skipped = len(re.findall(r"^\[  SKIPPED \] \S+ \(", text, re.M))
        running = re.findall(r"^\[ RUN      \] (\S+)", text, re.M)
        last = running[-1] if running else "?"
        rows.append((log.stem, str(ok), str(len(failed)), str(skipped),
                     f"no XML (cut off or crashed; last test started: {last}); failed: {', '.join(failed) or '-'}"))
    for xml in sorted(raw.glob("test_cuda_*.xml")):
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError as e:
            rows.append((xml.stem, "-", "-", "-", f"unreadable XML: {e}"))
            continue
        total = failed = skipped = 0
        notes = []
        for case in root.iter("testcase"):
            total += 1
            fails = case.findall("failure")
            skip = case.find("skipped")
            if fails:
                failed += 1
                msg = (fails[0].get("message") or fails[0].text or "").strip().splitlines()
                notes.append(f"{case.get('classname')}.{case.get('name')}: {msg[0][:160] if msg else ''}")
            elif skip is not None or case.get("result") == "skipped" or case.get("status") == "notrun":
                skipped += 1
                if len(notes) < 1:
                    why = ((skip.get("message") or skip.text or "") if skip is not None else "").strip()
                    # gtest writes "file:line" then the reason: keep the reason
                    notes.append("skipped: " + why.splitlines()[-1][:120] if why else "skipped")
        rows.append((xml.stem, str(total - failed - skipped), str(failed), str(skipped), "; ".join(notes[:3])))
    return rows


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def bench_tables(raw):
    out = []
    for path in sorted(raw.glob("bench_cuda_*.json")):
        data, note = load_benchmark_json(path)
        if data is None:
            out.append(f"### {path.stem}\n\nunreadable JSON: {note}\n")
            continue
        benches = [b for b in data.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]
        for b in benches:  # drop Google Benchmark's option suffixes (/min_time:0.200, /manual_time, ...)
            b["name"] = re.sub(r"(/(min_time|min_warmup_time|iterations|repeats):[^/]*|/manual_time|/real_time)+$", "",
                               b["name"])
        errors = {b.get("error_message", "") for b in benches if b.get("error_occurred")}
        if benches and all(b.get("error_occurred") for b in benches) and len(errors) == 1:
            out.append(f"### {path.stem}\n\nall {len(benches)} cases not run: {errors.pop()}\n")
            continue
        copy_gbs = None
        for b in benches:
            if re.search(r"copy|memcpy", b["name"], re.I) and not b.get("error_occurred"):
                g = gbs_of(b)
                if g:
                    copy_gbs = g
        peak_gbs = copy_gbs or PEAK_COPY_GBS
        lines = [f"### {path.stem}", ""]
        if note:
            lines += [note, ""]
        if copy_gbs:
            lines.append(f"(GB/s as % of this file's copy case: {copy_gbs:.0f} GB/s)")
            lines.append("")
        lines.append("| benchmark | time (us) | TFLOP/s | GB/s | vs cuBLAS / % of peak |")
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        for b in benches:
            name = b["name"]
            if b.get("error_occurred"):
                lines.append(f"| {name} | - | - | - | not run: {b.get('error_message', '')} |")
                continue
            t_us = to_us(b.get("real_time"), b.get("time_unit", "ns"))
            tflops = b.get("TFLOP/s")
            gbs = gbs_of(b)
            if "vs_cublas" in b:
                rel = f"{100 * b['vs_cublas']:.0f}% of cuBLAS"
            elif tflops:
                rel = f"{100 * tflops / PEAK_BF16_TFLOPS:.0f}% of {PEAK_BF16_TFLOPS:.0f} TFLOP/s"
            elif gbs:
                rel = f"{100 * gbs / peak_gbs:.0f}% of {peak_gbs:.0f} GB/s"
            else:
                rel = "-"
            lines.append(f"| {name} | {fmt(t_us)} | {fmt(tflops)} | {fmt(gbs, 0)} | {rel} |")
        lines.append("")
        pivot = matmul_pivot(benches)
        if pivot:
            lines += pivot
        out.append("\n".join(lines))
    return out


def load_benchmark_json(path):
    """(data, note): the file's JSON; for a file cut off by a killed process (a timeout), the
    benchmarks that finished before it, with a note saying so; (None, why) when nothing is usable."""
    text = path.read_text(errors="replace")
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as e:
        cut = text.rfind("\n    },")  # the end of the last complete entry of "benchmarks"
        if cut < 0:
            return None, str(e)
        try:
            data = json.loads(text[:cut] + "\n    }\n  ]\n}")
        except json.JSONDecodeError as e2:
            return None, str(e2)
        return data, "(the run was cut off: the cases below finished; later ones did not run)"


def gbs_of(b):
    for key in ("GB/s", "GBps", "gbps"):
        if key in b:
            return float(b[key])
    if "bytes_per_second" in b:
        return float(b["bytes_per_second"]) / 1e9
    return None


def to_us(t, unit):
    if t is None:
        return None
    return float(t) * {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}.get(unit, 1.0)


def matmul_pivot(benches):
    """cuda_matmul/<variant>/<problem>/<shape>: one row per problem, one column per variant."""
    cells, variants, problems = {}, [], []
    for b in benches:
        m = re.match(r"cuda_matmul/([^/]+)/([^/]+)/([^/]+)$", b["name"])
        if not m or b.get("error_occurred") or "TFLOP/s" not in b:
            continue
        v, p = m.group(1), m.group(2) + " " + m.group(3)
        if v not in variants:
            variants.append(v)
        if p not in problems:
            problems.append(p)
        cells[(p, v)] = b
    if not cells:
        return []
    lines = ["Matmul, TFLOP/s (and % of cuBLAS):", "",
             "| problem | " + " | ".join(variants) + " |",
             "| --- |" + " ---: |" * len(variants)]
    for p in problems:
        row = []
        for v in variants:
            b = cells.get((p, v))
            if b is None:
                row.append("")
            elif "vs_cublas" in b and not v.startswith("cublas"):
                row.append(f"{b['TFLOP/s']:.1f} ({100 * b['vs_cublas']:.0f}%)")
            else:
                row.append(f"{b['TFLOP/s']:.1f}")
        lines.append(f"| {p} | " + " | ".join(row) + " |")
    lines.append("")
    return lines


def json_lines(path):
    objs = []
    if not path.exists():
        return objs
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                objs.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return objs


def training_section(raw):
    lines = []
    for log, title in (("pretrain_bench.log", "bench/train_step --device cuda"),
                       ("pretrain_bench_wgmma.log", "bench/train_step --device cuda, SOG_MATMUL_BF16=wgmma")):
        bench = json_lines(raw / log)
        if bench:
            lines += [title + ":", "", "| key | value |", "| --- | --- |"]
            for k, v in bench[-1].items():
                lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
            lines.append("")
    train_log = raw / "pretrain_train.log"
    if train_log.exists():
        tail = [l for l in train_log.read_text(errors="replace").splitlines() if l.strip()][-12:]
        lines += ["pretrain train --device cuda, last lines:", "", "```"] + tail + ["```", ""]
    return lines


def peer_section(raw):
    path = raw / "attention_peer.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        return [f"attention_peer.json unreadable: {e}", ""]
    rows = data.get("results", [])
    lines = [f"PyTorch {data.get('torch', '?')} on {data.get('device', '?')}, causal SDPA:", "",
             "| backend | pass | B | T | NH | HS | time (us) | TFLOP/s |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r.get('backend')} | {r.get('pass')} | {r.get('B')} | {r.get('T')} | {r.get('NH')} | "
                         f"{r.get('HS')} | - | not run: {r['error']} |")
        else:
            lines.append(f"| {r['backend']} | {r['pass']} | {r['B']} | {r['T']} | {r['NH']} | {r['HS']} | "
                         f"{r['ms'] * 1e3:.1f} | {r['tflops']:.1f} |")
    lines.append("")
    return lines


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gpu_results.py RAW_DIR")
    raw = Path(sys.argv[1])
    steps = read_steps(raw)
    print("# GPU verification: results\n")
    for l in machine_lines(raw):
        print(f"- {l}")
    print()
    print("## Steps\n")
    print("| step | status | seconds |\n| --- | --- | ---: |")
    for s in steps:
        print(f"| {s[0]} | {s[1]} | {s[2]} |")
    print()
    tests = test_rows(raw)
    sass = raw / "sass.log"
    if sass.exists():
        print("Matrix instructions in the matmul objects (SASS):\n")
        print("```\n" + sass.read_text(errors="replace").strip() + "\n```\n")
    print("## Tests\n")
    if tests:
        print("| executable | passed | failed | skipped | notes |\n| --- | ---: | ---: | ---: | --- |")
        for r in tests:
            print("| " + " | ".join(r) + " |")
    else:
        print("no test results (no test_cuda_*.xml)")
    print()
    print("## Benchmarks\n")
    tables = bench_tables(raw)
    print("\n".join(tables) if tables else "no benchmark results (no bench_cuda_*.json)\n")
    train = training_section(raw)
    print("## GPT-2 124M training on the GPU\n")
    print("\n".join(train) if train else "no training results\n")
    peer = peer_section(raw)
    print("## Attention: the PyTorch peer\n")
    print("\n".join(peer) if peer else "no peer results\n")
    missing = [s for s in steps if s[1] != "ok"]
    print("## Did not run or failed\n")
    if missing:
        for s in missing:
            print(f"- {s[0]}: {s[1]}")
    else:
        print("everything ran")
    print()


if __name__ == "__main__":
    main()
