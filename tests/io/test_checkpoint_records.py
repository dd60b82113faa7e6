"""Issue 16, item 3: a hand-edited checkpoint's epoch records are validated like its arrays —
a missing key, a wrong type, more records than epochs trained, epochs out of order is one DataError
line, never a TypeError in the middle of the resumed run."""

import json

import numpy as np
import pytest

from nnaccel import cli
from nnaccel.errors import DataError
from nnaccel.io.checkpoints import load_checkpoint

SMALL = ["--sizes", "784", "6", "10", "--seed", "2", "--device", "cpu", "--validation-size", "7600",
         "--schedule", "halve", "--early-stopping", "3"]


@pytest.fixture
def checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *SMALL, "--epochs", "2", "--checkpoint", "c.npz"]) == 0
    return tmp_path / "c.npz"


def _edited(path, change):
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    change(meta["state"]["records"], meta["state"])
    out = path.with_name("edited.npz")
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)
    return out


EDITS = {
    "accuracy-as-text": (lambda r, s: r[1].update(evaluation_accuracy="97"), "'evaluation_accuracy'"),
    "cost-as-list": (lambda r, s: r[0].update(evaluation_cost=[1]), "'evaluation_cost'"),
    "no-epoch": (lambda r, s: r[0].pop("epoch"), "has no 'epoch'"),
    "no-eta": (lambda r, s: r[1].pop("eta"), "has no 'eta'"),
    "eta-negative": (lambda r, s: r[1].update(eta=-1), "'eta'"),
    "epoch-bool": (lambda r, s: r[0].update(epoch=False), "'epoch'"),
    "epochs-out-of-order": (lambda r, s: r.reverse(), "says epoch 1"),
    "a-record-dropped": (lambda r, s: r.pop(), "says epoch 0"),
    "a-record-added": (lambda r, s: r.append(dict(r[-1], epoch=2)), "3 epoch records for 2 epochs"),
    "record-is-a-number": (lambda r, s: r.__setitem__(0, 3), "bad 'records'"),
    "unknown-field": (lambda r, s: r[0].update(note="x"), "unknown field 'note'"),
    "accuracy-negative": (lambda r, s: r[0].update(evaluation_accuracy=-5), "'evaluation_accuracy'"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_a_hand_edited_record_is_one_line_and_resumes_nothing(checkpoint, capsys, name):
    change, words = EDITS[name]
    edited = _edited(checkpoint, change)
    with pytest.raises(DataError, match="the file is corrupt"):
        load_checkpoint(edited)
    capsys.readouterr()
    code = cli.main(["train", "--resume", str(edited), "--epochs", "4"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and words in err, err


def test_the_records_a_run_writes_pass_the_check(checkpoint):
    meta, _ = load_checkpoint(checkpoint)
    assert [r["epoch"] for r in meta["state"]["records"]] == [0, 1]
