"""The words of the object-detection views (box editor, boxes per class, mAP, the Test tab's boxes), English and
Russian side by side; merged into ui.i18n.strings.STRINGS."""

from __future__ import annotations

DETECTION_STRINGS: dict[str, tuple[str, str]] = {
    "task.object-detection": ("Object detection", "Обнаружение объектов"),
    "task.text-classification": ("Text classification", "Классификация текстов"),
    # --- the box editor (Data tab) ----------------------------------------------------------
    "ann.title": ("### Label pictures here\nAdd the classes, drop your pictures, then draw a box around every "
                  "object. Everything is saved as you go.",
                  "### Разметьте картинки здесь\nДобавьте классы, перетащите картинки и обведите рамкой каждый "
                  "объект. Всё сохраняется сразу."),
    "ann.class_name": ("New class", "Новый класс"),
    "ann.class_placeholder": ("e.g. cat", "например, кошка"),
    "ann.add_class": ("Add class", "Добавить класс"),
    "ann.no_classes": ("No classes yet: add one (or draw a box and type its name).",
                       "Классов пока нет: добавьте класс (или нарисуйте рамку и впишите его название)."),
    "ann.classes": ("Classes: {names}", "Классы: {names}"),
    "ann.drop": ("Drop pictures to label", "Перетащите картинки для разметки"),
    "ann.progress": ("**{done} of {total} labelled**", "**Размечено {done} из {total}**"),
    "ann.no_pictures": ("No pictures yet: drop some above.", "Картинок пока нет: перетащите их выше."),
    "ann.where": ("Picture {i} of {n}: {name}", "Картинка {i} из {n}: {name}"),
    "ann.suggested": ("Your model suggests {n} box(es): correct them, or keep them as they are.",
                      "Ваша модель предлагает рамок: {n}. Поправьте их или оставьте как есть."),
    "ann.accept": ("Keep the suggested boxes", "Оставить предложенные рамки"),
    "ann.prev": ("← Previous", "← Предыдущая"),
    "ann.next": ("Next →", "Следующая →"),
    "ann.no_objects": ("No objects in this picture", "На картинке нет объектов"),
    "ann.no_objects_info": ("It still teaches the model what is not an object.",
                            "Она всё равно учит модель, что объектом не является."),
    "ann.remove": ("Remove picture", "Убрать картинку"),
    "ann.keys": ("Keys: **→** / **N** next picture, **←** / **P** previous; on the picture **C** draws, **D** "
                 "moves, **E** edits a box's class, **Delete** removes the selected box.",
                 "Клавиши: **→** / **N** — следующая картинка, **←** / **P** — предыдущая; на картинке **C** — "
                 "рисовать, **D** — двигать, **E** — сменить класс рамки, **Delete** — удалить выбранную рамку."),
    "ann.use": ("Use these pictures", "Использовать эти картинки"),
    "ann.added": ("Added {n} picture(s).", "Добавлено картинок: {n}."),
    # --- data report ------------------------------------------------------------------------
    "det.data_intro": ("Bring pictures with their boxes — Ultralytics/YOLO (`images/` + `labels/`, `data.yaml`), "
                       "COCO JSON or Pascal VOC XML — as a folder on this computer or as a .zip, or label your own "
                       "pictures below. Your files are only read, never changed.",
                       "Принесите картинки с рамками — Ultralytics/YOLO (`images/` + `labels/`, `data.yaml`), COCO "
                       "JSON или Pascal VOC XML — папкой на этом компьютере или архивом .zip, или разметьте свои "
                       "картинки ниже. Ваши файлы только читаются и никогда не меняются."),
    "det.zip": ("…or upload a .zip of YOLO, COCO or VOC labels with their pictures (up to 500 MB)",
                "…или загрузите .zip с разметкой YOLO, COCO или VOC и картинками (до 500 МБ)"),
    "det.folder_placeholder": ("/home/me/Pictures/my-yolo-dataset", "/home/me/Картинки/мой-yolo-набор"),
    "det.summary": ("**{name}**: {n} pictures, {boxes} boxes in {k} classes, {background} picture(s) without "
                    "objects — {train} for training, {val} for validation, {test} for the test.",
                    "**{name}**: картинок {n}, рамок {boxes} в {k} классах, картинок без объектов: {background} — "
                    "{train} для обучения, {val} для проверки, {test} для теста."),
    "det.few_boxes": ("The rarest class has only {n} boxes: results will be rough. More boxes help most.",
                      "У самого редкого класса всего {n} рамок: результат будет грубым. Больше рамок — лучше всего."),
    "det.boxes_pictures": ("{boxes} boxes · {pictures} pictures", "рамок {boxes} · картинок {pictures}"),
    "det.background": ("Pictures without objects: {n}", "Картинок без объектов: {n}"),
    "det.sizes": ("Box sizes (a box's side as a share of the picture's side)",
                  "Размеры рамок (сторона рамки как доля стороны картинки)"),
    "det.counts": ("**Boxes per class**", "**Рамок на класс**"),
    # --- evaluate ---------------------------------------------------------------------------
    "det.per_class": ("Average precision per class", "Средняя точность по классам"),
    "det.per_class_means": ("AP50: how well the boxes of a class are found when a box counts as right at half "
                            "overlap; AP50-95 asks for tighter boxes too.",
                            "AP50: насколько хорошо находятся объекты класса, если рамка засчитывается при "
                            "перекрытии в половину; AP50-95 требует ещё и точных рамок."),
    "det.col_boxes": ("boxes", "рамок"),
    "det.col_confidence": ("confidence", "уверенность"),
    "det.gallery": ("Test pictures: true boxes green, found blue, false alarms red, missed orange",
                    "Тестовые картинки: верные рамки зелёные, найденные синие, ложные красные, пропущенные "
                    "оранжевые"),
    "det.gallery_caption": ("missed {missed} · false alarms {alarms}", "пропущено {missed} · ложных {alarms}"),
    "det.no_gallery": ("This run has no pictures with boxes to show.", "У этого запуска нет картинок с рамками."),
    "eval.map50_95": ("mAP50-95", "mAP50-95"),
    "eval.map50_95_means": ("How well boxes are found and fitted, from loose to tight overlap (1 is perfect).",
                            "Насколько хорошо объекты находятся и обводятся — от нестрогого до строгого "
                            "перекрытия (1 — идеально)."),
    "eval.map50": ("mAP50", "mAP50"),
    "eval.map50_means": ("How well objects are found when a box counts as right at half overlap.",
                         "Насколько хорошо объекты находятся, если рамка засчитывается при перекрытии в половину."),
    "eval.det_precision": ("Precision", "Точность"),
    "eval.det_precision_means": ("Of the boxes the model draws, how many are right.",
                                 "Какая доля нарисованных моделью рамок верна."),
    "eval.det_recall": ("Recall", "Полнота"),
    "eval.det_recall_means": ("Of the objects in the pictures, how many the model finds.",
                              "Какую долю объектов на картинках модель находит."),
    # --- train: the detectors' descriptions (English is the spec's own) ----------------------
    "model.fcos-mobilenetv2": ("", "FCOS (без якорей) на предобученной MobileNetV2 с пирамидой признаков: выбор по "
                                   "умолчанию для нескольких десятков картинок на процессоре."),
    "model.yolo11n": ("", "Детектор YOLO11n (2,6 млн параметров): очень быстрый на процессоре; предобученных весов "
                          "офлайн нет — учится с нуля, если не дать ему файл .pt."),
    "model.yolo11s": ("", "Детектор YOLO11s (9,4 млн параметров): быстрый на процессоре; предобученных весов офлайн "
                          "нет — учится с нуля, если не дать ему файл .pt."),
    "model.yolo11m": ("", "Детектор YOLO11m (20,1 млн параметров): медленный на процессоре, хорош на GPU; "
                          "предобученных весов офлайн нет — учится с нуля, если не дать ему файл .pt."),
    "model.yolo11l": ("", "Детектор YOLO11l (25,3 млн параметров): лучше всего с GPU; предобученных весов офлайн "
                          "нет — учится с нуля, если не дать ему файл .pt."),
    "model.yolo11x": ("", "Детектор YOLO11x (56,9 млн параметров): нужен GPU; предобученных весов офлайн нет — "
                          "учится с нуля, если не дать ему файл .pt."),
    # --- train ------------------------------------------------------------------------------
    "train.map": ("mAP", "mAP"),
    "train.done_det": ("**Done** in {seconds}. mAP50-95 {map}, mAP50 {map50}.",
                       "**Готово** за {seconds}. mAP50-95 {map}, mAP50 {map50}."),
    # --- test -------------------------------------------------------------------------------
    "det.image": ("A picture to look at", "Картинка для поиска объектов"),
    "det.predict": ("Find objects", "Найти объекты"),
    "det.result": ("Boxes found", "Найденные рамки"),
    "det.table": ("Detections", "Найденные объекты"),
    "det.conf": ("Confidence at least", "Уверенность не ниже"),
    "det.iou": ("Overlap that merges boxes (IoU)", "Перекрытие, при котором рамки сливаются (IoU)"),
    "det.found": ("{n} object(s) found.", "Найдено объектов: {n}."),
}
