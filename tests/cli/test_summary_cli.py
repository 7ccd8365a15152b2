from nnlab.cli.main import main


def test_summary_prints_the_table(capsys):
    assert main(["summary", "lenet5", "--input", "1x28x28", "--batch", "64", "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "features.0" in out and "6x28x28" in out and "parameters: 61,706" in out and "batch 64" in out


def test_summary_bad_input_is_a_user_error(capsys):
    assert main(["summary", "resnet18", "--input", "3x16x16", "--model.form=imagenet"]) == 2
    assert "at least 32x32" in capsys.readouterr().err
    assert main(["summary", "resnet18", "--input", "3by224"]) == 2
    assert main(["summary", "resnet18", "--model.depth=3"]) == 2
    assert "model.depth" in capsys.readouterr().err
    assert main(["summary", "knn", "--input", "1x8x8"]) == 2
