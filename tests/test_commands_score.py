import json
import shutil

from metrics_support import dns_pairs

from benchmark.cli import main


def test_score_command_pairs_folders_and_records_backend(corpora, isolated_env, capsys):
    deg, ref = isolated_env / "deg", isolated_env / "ref"
    (deg / "sub").mkdir(parents=True)
    ref.joinpath("sub").mkdir(parents=True)
    (n15, c15), (n16, _), (_, c72) = dns_pairs(corpora)
    shutil.copy(n15, deg / "sub" / "a.wav")
    shutil.copy(c15, ref / "sub" / "a.wav")
    shutil.copy(n16, deg / "only_processed.wav")
    shutil.copy(c72, ref / "only_reference.wav")
    out = isolated_env / "s.json"
    rc = main(["score", "--metrics", "pesq", "dnsmos", "--degraded", str(deg), "--reference", str(ref),
               "--out", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    rows = {(r["metric"], r["item"], r["column"]): r for r in data["items"]}
    a = rows[("pesq", "sub/a", "PESQ-wb")]
    assert a["error"] is None and 1.0 < a["value"] < 2.5
    assert a["backend"] == "pesq" and a["backend_version"].startswith("pesq ") and a["rate"] == 16000
    assert "no reference" in rows[("pesq", "only_processed", "PESQ-wb")]["error"]
    assert "no processed file" in rows[("pesq", "only_reference", "PESQ-wb")]["error"]
    # DNSMOS needs no reference: the unpaired processed file is still scored
    assert rows[("dnsmos", "only_processed", "OVRL")]["error"] is None
    summary = {(s["metric"], s["column"]): s for s in data["summary"]}
    assert summary[("pesq", "PESQ-wb")]["scored"] == 1 and summary[("dnsmos", "BAK")]["scored"] == 2
    assert "error: pesq only_reference" in capsys.readouterr().out


def test_score_command_user_errors_are_one_clear_message(isolated_env, capsys):
    assert main(["score", "--metrics", "lsd", "--degraded", str(isolated_env / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["score", "--metrics", "runtime", "--degraded", str(isolated_env)]) == 2
    assert main(["score", "--metrics", "spk_sim", "--profile", "paper", "--degraded",
                 str(isolated_env)]) == 2
