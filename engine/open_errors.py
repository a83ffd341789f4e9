"""What opening a model made elsewhere (engine.open_model) can refuse, by code, in English.

The UI says each sentence in other languages by code (ui/i18n `dataerr.<code>`).
"""

from __future__ import annotations

_FIX = "export the run again (python -m engine export RUN) and open the new .zip"
# English sentence of each error, by code; the UI says it in Russian by code (ui/i18n `dataerr.<code>`).
ERRORS: dict[str, str] = {
    "open_missing": "'{name}' does not exist; choose the exported .zip or folder again.",
    "open_kind": "'{name}' is not a .zip or a folder; open the .zip that Export wrote, or a zipped run folder.",
    "open_not_model": "'{name}' holds neither an exported package (model.onnx, labels.json, preprocess.json) nor a "
                      "run folder (config.yaml, checkpoints/best.pt); open the .zip that Export wrote, or a zipped "
                      "run folder.",
    "open_no_file": "The package '{name}' has no {file}; " + _FIX + ".",
    "open_task_unsupported": "'{name}' holds a model for {task}; this version opens image classifiers only. Use the "
                             "package's own predict.py, or train the model in this workspace.",
    "open_bad_json": "{file} in '{name}' is not valid JSON; " + _FIX + ".",
    "open_bad_labels": "labels.json in '{name}' is not a list of two or more different class names; " + _FIX + ".",
    "open_bad_preprocess": "preprocess.json in '{name}' has no valid '{key}'; " + _FIX + ".",
    "open_bad_report": "export_report.json in '{name}' is not a Konstruktor export report; " + _FIX + ".",
    "open_labels_differ": "{file} in '{name}' lists other classes than labels.json; the files come from different "
                          "exports: " + _FIX + ".",
    "open_parity_failed": "The package '{name}' failed its own check at export ({file} disagreed with the trained "
                          "model); " + _FIX + ".",
    "open_onnx_unreadable": "model.onnx in '{name}' cannot be read by ONNX Runtime ({error}); " + _FIX + ".",
    "open_onnx_input": "model.onnx in '{name}' does not take a batch of 3 x {size} x {size} images as "
                       "preprocess.json says; " + _FIX + ".",
    "open_class_count": "model.onnx in '{name}' gives {outputs} outputs but labels.json names {classes} classes; the "
                        "files come from different exports: " + _FIX + ".",
    "open_pickle": "{file} in '{name}' was refused: loading it would run Python code stored inside it (a pickle "
                   "payload), and only plain weight files are opened; ask for a package exported by Konstruktor.",
    "open_bad_checkpoint": "{file} in '{name}' is not a Konstruktor checkpoint this version can use ({error}); "
                           "export or zip the run again.",
    "open_run_config": "The run folder '{name}' has an unusable config.yaml ({error}); zip the run folder again.",
    "open_run_unfinished": "The run in '{name}' has not finished training; finish it where it was trained, then zip "
                           "its folder again.",
    "open_no_project": "There is no project '{project}' in this workspace; create it first or leave --project out.",
    "open_no_gradcam": "Grad-CAM needs the model's PyTorch weights (model.pt), and the package '{name}' has only "
                       "the ONNX model; the classes shown still come from it.",
    "open_eval_classes": "The data has classes this model does not know ({classes}); it can be scored only on data "
                         "with the classes {labels}.",
}
