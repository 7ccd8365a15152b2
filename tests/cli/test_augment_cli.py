import yaml

from nnlab.cli.main import main


def test_preview_writes_a_png_grid(tmp_path, digits_config, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**digits_config, "augment": {"preset": "digits"}}))
    out = tmp_path / "grid.png"
    assert main(["augment", "preview", str(cfg), "--n", "6", "--out", str(out), "--regularize.mixup=0.4"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(out) in capsys.readouterr().out


def test_preview_refusals_exit_2(tmp_path, digits_config, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(digits_config))
    assert main(["augment", "preview", str(cfg), "--augment.hflip=0.5", "--out", str(tmp_path / "a.png")]) == 2
    assert "augment.hflip" in capsys.readouterr().err
    assert main(["augment", "preview", str(cfg), "--n", "0"]) == 2
