"""Every string the UI shows, English and Russian side by side: {key: (English, Russian)}.

Markdown is allowed. {name} fields are filled in by `ui.i18n.t`.
"""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    # --- app --------------------------------------------------------------------------------
    "app.title": ("# Konstruktor\nTrain an image classifier on a few dozen pictures per class, on this computer.",
                  "# Konstruktor\nОбучите классификатор изображений на нескольких десятках картинок на класс, "
                  "прямо на этом компьютере."),
    "app.project": ("Project", "Проект"),
    "app.language": ("Language", "Язык"),
    "app.footer": ("Konstruktor {version} · workspace: `{root}`", "Konstruktor {version} · рабочая папка: `{root}`"),
    "tab.projects": ("Projects", "Проекты"),
    "tab.data": ("1 · Data", "1 · Данные"),
    "tab.train": ("2 · Train", "2 · Обучение"),
    "tab.evaluate": ("3 · Evaluate", "3 · Оценка"),
    "tab.test": ("4 · Test", "4 · Проверка"),
    "tab.export": ("5 · Export", "5 · Экспорт"),
    "tab.runs": ("Runs", "Запуски"),
    "tab.settings": ("Settings", "Настройки"),
    # --- common -----------------------------------------------------------------------------
    "common.no_project": ("Create or open a project first (the **Projects** tab, or the menu at the top).",
                          "Сначала создайте или откройте проект (вкладка **Проекты** или меню вверху)."),
    "common.unexpected": ("Something went wrong: {what}. The details are in the app's log (logs/ui.log in the "
                          "workspace).",
                          "Что-то пошло не так: {what}. Подробности — в журнале приложения (logs/ui.log в рабочей "
                          "папке)."),
    "common.run": ("Run (model)", "Запуск (модель)"),
    "common.accuracy": ("accuracy", "точность"),
    "split.train": ("training", "обучение"),
    "split.val": ("validation", "валидация"),
    "split.test": ("test", "тест"),
    "status.created": ("not started", "не запущен"),
    "status.starting": ("starting…", "запускается…"),
    "status.running": ("training", "обучается"),
    "status.done": ("done", "готово"),
    "status.failed": ("failed", "ошибка"),
    "status.cancelled": ("stopped", "остановлен"),
    "status.interrupted": ("interrupted", "прерван"),
    "status.missing": ("folder missing", "папка не найдена"),
    "time.seconds": ("{n} s", "{n} с"),
    "time.minutes": ("{n} min", "{n} мин"),
    # --- projects ---------------------------------------------------------------------------
    "projects.intro": ("A project holds one dataset and the models trained on it. Start with a name, or try the "
                       "sample (faces vs. other pictures) to see everything work in a minute.",
                       "Проект — это один набор данных и обученные на нём модели. Начните с названия или "
                       "попробуйте пример (лица и не лица), чтобы за минуту увидеть всё в работе."),
    "projects.new_name": ("New project", "Новый проект"),
    "projects.new_placeholder": ("e.g. Ripe or not", "например, Спелые или нет"),
    "projects.create": ("Create", "Создать"),
    "projects.sample": ("Try a sample project", "Попробовать пример"),
    "projects.sample_name": ("Sample: faces vs. non-faces", "Пример: лица и не лица"),
    "projects.list": ("Your projects", "Ваши проекты"),
    "projects.col_name": ("Project", "Проект"),
    "projects.col_images": ("Images", "Изображений"),
    "projects.col_runs": ("Trained models", "Обученных моделей"),
    "projects.col_updated": ("Last change", "Изменён"),
    "projects.manage": ("Rename or delete the open project", "Переименовать или удалить открытый проект"),
    "projects.rename_to": ("Name", "Название"),
    "projects.rename": ("Rename", "Переименовать"),
    "projects.delete": ("Delete project…", "Удалить проект…"),
    "projects.delete_confirm": ("Delete the project **{name}**? Its trained runs stay on disk in the workspace; "
                                "only the project goes away.",
                                "Удалить проект **{name}**? Обученные запуски останутся на диске в рабочей папке; "
                                "исчезнет только сам проект."),
    "projects.delete_yes": ("Yes, delete it", "Да, удалить"),
    "projects.delete_no": ("Cancel", "Отмена"),
    "projects.delete_busy": ("A model is training in this project; stop it first.",
                             "В этом проекте идёт обучение; сначала остановите его."),
    "projects.need_name": ("Type a name for the project.", "Введите название проекта."),
    "projects.created": ("Project **{name}** created. Now add its pictures.",
                         "Проект **{name}** создан. Теперь добавьте картинки."),
    "projects.renamed": ("Renamed to **{name}**.", "Переименовано в **{name}**."),
    "projects.deleted": ("Project **{name}** deleted.", "Проект **{name}** удалён."),
    # --- data -------------------------------------------------------------------------------
    "data.intro": ("Bring one folder per class (a folder `cats` with cat pictures, a folder `dogs` with dog "
                   "pictures…), as a folder on this computer or as a .zip. Your files are only read, never changed.",
                   "Нужна одна папка на класс (папка `кошки` с кошками, папка `собаки` с собаками…) — папкой на "
                   "этом компьютере или архивом .zip. Ваши файлы только читаются и никогда не меняются."),
    "data.folder": ("Folder on this computer", "Папка на этом компьютере"),
    "data.folder_placeholder": ("/home/me/Pictures/my-classes", "/home/me/Картинки/мои-классы"),
    "data.import_folder": ("Import folder", "Импортировать папку"),
    "data.zip": ("…or upload a .zip of class folders", "…или загрузите .zip с папками классов"),
    "data.sample": ("Try a sample", "Попробовать пример"),
    "data.checking": ("Checking pictures", "Проверяем картинки"),
    "data.empty": ("This project has no pictures yet. Import a folder or a .zip above, or try the sample.",
                   "В проекте пока нет картинок. Импортируйте папку или .zip выше или попробуйте пример."),
    "data.need_folder": ("Type the path of a folder that holds one folder per class.",
                         "Введите путь к папке, в которой по папке на каждый класс."),
    "data.no_folder_when_shared": ("On a shared link, upload a .zip instead of a folder path.",
                                   "По общей ссылке загрузите .zip вместо пути к папке."),
    "data.imported": ("Imported {n} pictures in {k} classes.", "Импортировано {n} картинок в {k} классах."),
    "data.reused": ("These {n} pictures in {k} classes were imported before; using them.",
                    "Эти {n} картинок в {k} классах уже импортированы; используем их."),
    "data.left_out": ("{n} file(s) were left out; see the problems below.",
                      "Пропущено файлов: {n}; причины — в таблице ниже."),
    "data.import_failed": ("**Could not import.** {why}", "**Не удалось импортировать.** {why}"),
    "data.summary": ("**{name}**: {n} pictures in {k} classes — {train} for training, {val} for validation, "
                     "{test} for the final test.",
                     "**{name}**: {n} картинок в {k} классах — {train} для обучения, {val} для валидации, "
                     "{test} для финального теста."),
    "data.few_images": ("The smallest class has only {n} pictures: results will be rough. More pictures help "
                        "most.",
                        "В самом маленьком классе всего {n} картинок: результат будет грубым. Больше всего "
                        "помогут новые картинки."),
    "data.counts": ("**Pictures per class**", "**Картинок на класс**"),
    "data.thumbs": ("A few pictures of each class", "Несколько картинок каждого класса"),
    "data.problems": ("What the check found", "Что нашла проверка"),
    "data.col_file": ("File", "Файл"),
    "data.col_problem": ("Problem", "Проблема"),
    "data.col_details": ("Details", "Подробности"),
    "data.no_problems": ("No problems found.", "Проблем не найдено."),
    "problem.conflict": ("the same picture is in more than one class (all copies left out)",
                         "одна и та же картинка в нескольких классах (все копии пропущены)"),
    "problem.unreadable": ("unreadable or not a picture (skipped)", "не читается или не картинка (пропущен)"),
    "problem.missing": ("listed in the CSV but not found (skipped)", "указан в CSV, но не найден (пропущен)"),
    "problem.small_class": ("in a class with fewer than 2 pictures (class dropped)",
                            "в классе меньше 2 картинок (класс исключён)"),
    "problem.no_train": ("in a class with no training pictures (class dropped)",
                         "в классе нет картинок для обучения (класс исключён)"),
    "problem.leak": ("the same picture in two splits (one copy kept)",
                     "одна картинка в двух частях выборки (оставлена одна копия)"),
    "problem.duplicate": ("exact duplicate within a class (one copy kept)",
                          "точный дубликат внутри класса (оставлена одна копия)"),
    "problem.ignored": ("outside the class folders (skipped)", "вне папок классов (пропущен)"),
    "problem.tiny_image": ("very small picture (kept)", "очень маленькая картинка (оставлена)"),
    "problem.converted": ("converted to RGB colour (kept)", "преобразована в цвета RGB (оставлена)"),
    "problem.exif_rotated": ("turned upright from the camera's orientation tag (kept)",
                             "повёрнута по метке ориентации камеры (оставлена)"),
    # --- train ------------------------------------------------------------------------------
    "train.no_data": ("Import pictures in the **Data** tab first.", "Сначала импортируйте картинки на вкладке **Данные**."),
    "train.data_line": ("Data: {n} pictures in {k} classes (the smallest class has {smallest} for training).",
                        "Данные: {n} картинок в {k} классах (в самом маленьком классе {smallest} для обучения)."),
    "train.model": ("Model", "Модель"),
    "train.model_info": ("Smaller models train and answer faster; bigger ones can be more accurate.",
                         "Модели поменьше учатся и отвечают быстрее; побольше — бывают точнее."),
    "train.offline_badge": ("✓ works offline", "✓ работает офлайн"),
    "train.download_badge": ("needs a download", "нужна загрузка"),
    "train.card_facts": ("{params} million parameters · pictures resized to {size} px",
                         "{params} млн параметров · картинки приводятся к {size} px"),
    "train.needs_weights": ("Its pretrained weights are not on this computer: Konstruktor downloads them once when "
                            "online, or you put a weights file in the workspace's cache/weights folder.",
                            "Её предобученных весов нет на этом компьютере: Konstruktor скачает их один раз при "
                            "наличии интернета, или положите файл весов в папку cache/weights рабочей папки."),
    "train.mode": ("How to train", "Как обучать"),
    "mode.linear-probe": ("Linear probe — keep the pretrained network, teach only its last layer (seconds)",
                          "Линейный зонд — сеть не меняется, учится только последний слой (секунды)"),
    "mode.fine-tune": ("Fine-tune — also adjust the upper layers (minutes; better with more pictures or a GPU)",
                       "Дообучение — подстраиваются и верхние слои (минуты; лучше при большем числе картинок "
                       "или с GPU)"),
    "mode.full": ("Full training — adjust every layer (slow; for larger datasets)",
                  "Полное обучение — меняются все слои (долго; для больших наборов)"),
    "mode.scratch": ("From scratch — no pretrained knowledge (needs many pictures)",
                     "С нуля — без предобучения (нужно много картинок)"),
    "mode_short.linear-probe": ("linear probe", "линейный зонд"),
    "mode_short.fine-tune": ("fine-tune", "дообучение"),
    "mode_short.full": ("full training", "полное обучение"),
    "mode_short.scratch": ("from scratch", "с нуля"),
    "train.all_models": ("Also show models that need a download", "Показать и модели, которым нужна загрузка"),
    "train.recommended": ("**Recommended: {mode}.**", "**Рекомендуем: {mode}.**"),
    "why.linear-probe": ("With this many pictures a linear head on frozen pretrained features is the most "
                         "reliable choice, and it takes seconds on this computer.",
                         "При таком числе картинок линейный слой поверх замороженных предобученных признаков — "
                         "самый надёжный выбор, и на этом компьютере он занимает секунды."),
    "why.fine-tune": ("There are enough pictures per class and time for it: fine-tuning the upper layers after a "
                      "linear-probe start usually beats a frozen network.",
                      "Картинок на класс достаточно, и время позволяет: дообучение верхних слоёв после линейного "
                      "зонда обычно точнее замороженной сети."),
    "why.full": ("Training every layer suits large datasets.", "Обучение всех слоёв подходит для больших наборов."),
    "why.scratch": ("No pretrained weights for this model are on this computer, so it can only learn from "
                    "scratch; expect much lower accuracy with little data.",
                    "Предобученных весов этой модели на компьютере нет, поэтому она может учиться только с нуля; "
                    "с малым количеством данных точность будет намного ниже."),
    "train.augment": ("Augmentation (random changes to training pictures)",
                      "Аугментация (случайные изменения обучающих картинок)"),
    "preset.none": ("None", "Нет"),
    "preset.light": ("Light (recommended)", "Лёгкая (рекомендуем)"),
    "preset.medium": ("Medium", "Средняя"),
    "preset.strong": ("Strong", "Сильная"),
    "train.hflip": ("Mirror pictures", "Отражать картинки"),
    "train.hflip_info": ("Turn off when left and right matter (arrows, letters).",
                         "Выключите, если важно, где лево и право (стрелки, буквы)."),
    "train.reshuffle": ("Show other examples", "Показать другие примеры"),
    "train.preview": ("What training pictures may look like", "Какими могут быть обучающие картинки"),
    "train.advanced": ("Advanced settings", "Дополнительные настройки"),
    "train.epochs": ("Epochs", "Эпохи"),
    "train.epochs_info": ("Passes over the data; empty = the mode's default.",
                          "Проходы по данным; пусто — по умолчанию для режима."),
    "train.batch": ("Batch size", "Размер батча"),
    "train.lr": ("Learning rate", "Скорость обучения"),
    "train.lr_info": ("Empty = the mode's default.", "Пусто — по умолчанию для режима."),
    "train.seed": ("Random seed", "Зерно случайности"),
    "train.budget": ("Time limit, minutes", "Лимит времени, минут"),
    "train.budget_info": ("Stops early and keeps the best model; empty = no limit.",
                          "Останавливает раньше и сохраняет лучшую модель; пусто — без лимита."),
    "train.where": ("Where to train", "Где обучать"),
    "train.where_cpu": ("This computer (CPU)", "Этот компьютер (процессор)"),
    "train.where_gpu": ("This computer (GPU)", "Этот компьютер (GPU)"),
    "train.where_cloud": ("Yandex Cloud — set up in Settings", "Yandex Cloud — настраивается в Настройках"),
    "train.cloud_later": ("Training in Yandex Cloud is not available yet; it will be set up in Settings. Training "
                          "runs on this computer.",
                          "Обучение в Yandex Cloud пока недоступно; оно будет настраиваться в Настройках. "
                          "Обучаем на этом компьютере."),
    "train.start": ("Start training", "Начать обучение"),
    "train.stop": ("Stop", "Остановить"),
    "train.resume": ("Resume", "Продолжить"),
    "train.resuming": ("Resuming from the last checkpoint…", "Продолжаем с последней контрольной точки…"),
    "train.stopped": ("Stopped. The last checkpoint is kept; **Resume** continues from it.",
                      "Остановлено. Последняя контрольная точка сохранена; **Продолжить** продолжит с неё."),
    "train.nothing_running": ("Nothing is training in this project.", "В этом проекте сейчас ничего не обучается."),
    "train.nothing_to_resume": ("There is no stopped run to resume.", "Нет остановленного запуска."),
    "train.bad_choice": ("That choice is not available; reload the page.", "Такой вариант недоступен; обновите страницу."),
    "train.bad_number": ("The advanced settings must be numbers.", "Дополнительные настройки должны быть числами."),
    "train.settings": ("The training settings", "Настройки обучения"),
    "train.running_what": ("**{model}** · {mode} · on {device}", "**{model}** · {mode} · на {device}"),
    "train.eta": ("about {eta} left", "осталось около {eta}"),
    "train.done": ("**Done** in {seconds}. Accuracy on pictures it never saw: **{acc}**. See the details in "
                   "**Evaluate**, or try it in **Test**.",
                   "**Готово** за {seconds}. Точность на картинках, которых модель не видела: **{acc}**. "
                   "Подробности — на вкладке **Оценка**, попробовать — на вкладке **Проверка**."),
    "train.failed": ("Training failed.", "Обучение не удалось."),
    "train.see_log": ("The full log is under **Log** below.", "Полный журнал — в разделе **Журнал** ниже."),
    "train.loss_plot": ("Loss (lower is better)", "Потери (чем ниже, тем лучше)"),
    "train.acc_plot": ("Validation accuracy", "Точность на валидации"),
    "train.epoch": ("epoch", "эпоха"),
    "train.loss": ("loss", "потери"),
    "train.accuracy": ("accuracy", "точность"),
    "train.log": ("Log", "Журнал"),
    "train.show_log": ("Show the log", "Показать журнал"),
    "train.no_log": ("No log yet.", "Журнала пока нет."),
    "phase.embedding": ("Reading pictures through the network", "Пропускаем картинки через сеть"),
    "phase.train": ("Training", "Обучение"),
    "phase.train_epoch": ("Training, epoch {epoch}", "Обучение, эпоха {epoch}"),
    "phase.evaluate": ("Checking on held-out pictures", "Проверка на отложенных картинках"),
    "model.tf_efficientnet_lite0": ("", "Небольшая и быстрая (4,7 млн параметров), хорошая точность для своего "
                                        "размера; работает офлайн — рекомендуемый старт."),
    "model.tf_efficientnet_lite1": ("", "Чуть больше и медленнее Lite0 (5,4 млн параметров, 240 px) ради чуть "
                                        "большей точности; работает офлайн."),
    "model.tf_efficientnet_lite2": ("", "Самая точная из офлайн-моделей EfficientNet-Lite (6,1 млн параметров, "
                                        "260 px), примерно вдвое медленнее Lite0."),
    "model.mobilenetv2_100": ("", "Самая быстрая здесь на процессоре (3,5 млн параметров), чуть менее точная, "
                                  "чем EfficientNet-Lite; работает офлайн."),
    # --- evaluate ---------------------------------------------------------------------------
    "eval.no_run": ("No finished model in this project yet: train one in the **Train** tab.",
                    "В проекте пока нет обученной модели: обучите её на вкладке **Обучение**."),
    "eval.no_metrics": ("This run has no held-out pictures to measure on.", "У этого запуска нет отложенных картинок для оценки."),
    "eval.about_run": ("{model} ({mode}), measured {where}.", "{model} ({mode}), измерено {where}."),
    "eval.on_test": ("on {n} test pictures it never saw in training", "на {n} тестовых картинках, не виденных при обучении"),
    "eval.on_val": ("on {n} validation pictures", "на {n} картинках валидации"),
    "eval.accuracy": ("Accuracy", "Точность (accuracy)"),
    "eval.accuracy_means": ("The share of pictures it classifies right.", "Доля картинок, которые модель узнаёт верно."),
    "eval.macro_f1": ("Macro-F1", "Macro-F1"),
    "eval.macro_f1_means": ("0 to 1, averaged over classes: low when any class is often missed or confused, "
                            "even a small one.",
                            "От 0 до 1, среднее по классам: низкое, если какой-то класс часто пропускается или "
                            "путается, даже маленький."),
    "eval.balanced": ("Balanced accuracy", "Сбалансированная точность"),
    "eval.balanced_means": ("Accuracy with every class counting the same, however many pictures it has.",
                            "Точность, где каждый класс весит одинаково, сколько бы в нём ни было картинок."),
    "eval.cv": ("**How much to trust this number:** over {folds}-fold cross-validation repeated {repeats} times, "
                "accuracy was {mean} ± {std} (macro-F1 {f1} ± {f1_std}). With few pictures one split can be lucky "
                "or unlucky; the spread shows by how much.",
                "**Насколько доверять числу:** при {folds}-кратной перекрёстной проверке, повторённой {repeats} раза, "
                "точность {mean} ± {std} (macro-F1 {f1} ± {f1_std}). При малом числе картинок одно разбиение может "
                "оказаться удачным или неудачным; разброс показывает, насколько."),
    "eval.cv_skipped": ("Cross-validation was skipped: {why}.", "Перекрёстная проверка пропущена: {why}."),
    "eval.per_class": ("Per class", "По классам"),
    "eval.col_class": ("class", "класс"),
    "eval.per_class_means": ("*precision*: when the model names this class, how often it is right; *recall*: how "
                             "many pictures of this class it finds; *F1* combines the two.",
                             "*precision*: как часто модель права, когда называет этот класс; *recall*: какую долю "
                             "картинок этого класса она находит; *F1* объединяет оба."),
    "eval.no_wrong_test": ("No mistakes on the test pictures. With few pictures that can be luck; the spread of "
                           "the cross-validation above, or more pictures, tell more.",
                           "На тестовых картинках ошибок нет. При малом числе картинок это может быть удачей; "
                           "больше скажут разброс перекрёстной проверки выше или новые картинки."),
    "eval.no_wrong_val": ("No mistakes on the validation pictures.", "На картинках валидации ошибок нет."),
    "eval.col_support": ("pictures", "картинок"),
    "eval.confusion": ("**Confusion matrix**: rows are the true class, columns what the model said; the "
                       "diagonal is right.",
                       "**Матрица ошибок**: строки — верный класс, столбцы — ответ модели; диагональ — верные "
                       "ответы."),
    "eval.wrong_intro": ("**Mistakes**, most confident first. Click one to see what the model looked at.",
                         "**Ошибки**, сначала самые уверенные. Нажмите на картинку, чтобы увидеть, куда смотрела "
                         "модель."),
    "eval.wrong": ("Misclassified pictures (true → predicted, confidence)",
                   "Ошибочно распознанные (верно → ответ, уверенность)"),
    "eval.gradcam": ("Where the model looked (Grad-CAM: red mattered most)",
                     "Куда смотрела модель (Grad-CAM: красное важнее всего)"),
    "eval.cam_text": ("True class **{true}**; the model said **{label}** ({prob}).",
                      "Верный класс **{true}**; модель ответила **{label}** ({prob})."),
    # --- test -------------------------------------------------------------------------------
    "test.image": ("A picture to classify", "Картинка для распознавания"),
    "test.gradcam": ("Show where the model looked", "Показать, куда смотрела модель"),
    "test.gradcam_info": ("Grad-CAM heat map: red areas mattered most for the answer.",
                          "Тепловая карта Grad-CAM: красные области важнее всего для ответа."),
    "test.predict": ("Classify", "Распознать"),
    "test.result": ("The model's answer", "Ответ модели"),
    "test.cam": ("Where the model looked", "Куда смотрела модель"),
    "test.cam_note": ("Red areas mattered most for **{label}**.", "Красные области важнее всего для ответа **{label}**."),
    "test.need_image": ("Add a picture first.", "Сначала добавьте картинку."),
    "test.no_run": ("No finished model yet: train one in the **Train** tab.",
                    "Обученной модели пока нет: обучите её на вкладке **Обучение**."),
    "test.bad_image": ("Could not classify: {why}.", "Не удалось распознать: {why}."),
    # --- export -----------------------------------------------------------------------------
    "export.intro": ("Take the model with you. **Export for use elsewhere** makes a .zip with the model as ONNX "
                     "(plus PyTorch and TorchScript), `predict.py` that runs it without Konstruktor, the "
                     "preprocessing code and settings, and a README; it is checked to give the same answers as "
                     "the trained model. Below it: the PyTorch checkpoint (`best.pt`, loads with "
                     "`torch.load(weights_only=True)`) and the class names in output order (`labels.json`).",
                     "Заберите модель. **Экспорт для работы в другом месте** собирает .zip: модель в ONNX (а также "
                     "PyTorch и TorchScript), `predict.py`, который запускает её без Konstruktor, код и настройки "
                     "предобработки и README; проверено, что ответы совпадают с обученной моделью. Ниже — "
                     "контрольная точка PyTorch (`best.pt`, загружается через `torch.load(weights_only=True)`) и "
                     "имена классов в порядке выходов (`labels.json`)."),
    "export.package": ("Export for use elsewhere (ONNX + ready-to-run code)",
                       "Экспорт для работы в другом месте (ONNX + готовый к запуску код)"),
    "export.int8": ("Also make a smaller INT8 model", "Также сделать уменьшенную модель INT8"),
    "export.download_package": ("Download the package (.zip)", "Скачать пакет (.zip)"),
    "export.working": ("Exporting… this takes a minute or two.", "Экспорт… это займёт минуту-другую."),
    "export.step": ("Exporting… {step}", "Экспорт… {step}"),
    "export.done": ("**Exported.** The package is {size} MB (zip).", "**Экспорт готов.** Пакет — {size} МБ (zip)."),
    "export.files": ("Files: {files}.", "Файлы: {files}."),
    "export.parity": ("`{file}` agrees with the trained model on {n} images: same top class for {agree} %, largest "
                      "probability difference {diff}.",
                      "`{file}` совпадает с обученной моделью на {n} изображениях: тот же лучший класс в {agree} % "
                      "случаев, наибольшая разница вероятностей {diff}."),
    "export.int8_change": ("`model.int8.onnx` ({size} MB instead of {fp32_size} MB): accuracy {int8} % vs {fp32} % "
                           "for the full model ({change} points).",
                           "`model.int8.onnx` ({size} МБ вместо {fp32_size} МБ): точность {int8} % против {fp32} % "
                           "у полной модели ({change} п.)."),
    "export.failed": ("Export failed: {why}", "Экспорт не удался: {why}"),
    "export.crashed": ("Export failed unexpectedly (exit code {code}). The details are in the app's log "
                       "(logs/ui.log in the workspace).",
                       "Экспорт неожиданно прервался (код выхода {code}). Подробности — в журнале приложения "
                       "(logs/ui.log в рабочей папке)."),
    "export.checkpoint": ("Download the model (best.pt)", "Скачать модель (best.pt)"),
    "export.labels": ("Download the class names (labels.json)", "Скачать имена классов (labels.json)"),
    "export.no_run": ("No finished model yet: train one in the **Train** tab.",
                      "Обученной модели пока нет: обучите её на вкладке **Обучение**."),
    "export.ready": ("Ready: the model file is {size} MB.", "Готово: файл модели — {size} МБ."),
    # --- runs -------------------------------------------------------------------------------
    "runs.intro": ("Every training run of this project. Click a column title to sort; choose the model the "
                   "other tabs use by default.",
                   "Все запуски обучения в проекте. Нажмите на заголовок столбца, чтобы отсортировать; выберите "
                   "модель, которую остальные вкладки используют по умолчанию."),
    "runs.table": ("Runs", "Запуски"),
    "runs.col_run": ("run", "запуск"),
    "runs.col_status": ("status", "состояние"),
    "runs.col_model": ("model", "модель"),
    "runs.col_mode": ("mode", "режим"),
    "runs.col_data": ("data fingerprint", "отпечаток данных"),
    "runs.col_time": ("train time, s", "время обучения, с"),
    "runs.col_size": ("size, MB", "размер, МБ"),
    "runs.choose": ("Use as the project's model", "Сделать моделью проекта"),
    "runs.resume": ("Resume", "Продолжить"),
    "runs.reload": ("Reload", "Обновить"),
    "runs.choose_done_only": ("Only a finished run can be the project's model.",
                              "Моделью проекта может быть только завершённый запуск."),
    "runs.chosen": ("**{run}** is now the project's model.", "**{run}** теперь модель проекта."),
    "runs.resume_only": ("Only a stopped, interrupted or failed run can be resumed.",
                         "Продолжить можно только остановленный, прерванный или неудачный запуск."),
    # --- settings ---------------------------------------------------------------------------
    "settings.workspace": ("Everything Konstruktor keeps (projects, imported pictures, runs, caches) is in "
                           "`{root}`. Start the app with `--workspace DIR` to use another folder.",
                           "Всё, что хранит Konstruktor (проекты, импортированные картинки, запуски, кэши), "
                           "лежит в `{root}`. Чтобы использовать другую папку, запустите приложение с "
                           "`--workspace DIR`."),
    "settings.cloud": ("Yandex Cloud", "Yandex Cloud"),
    "settings.cloud_intro": ("Training in Yandex Cloud, for when this computer is too slow, comes in a later "
                             "version. Nothing entered here is sent anywhere.",
                             "Обучение в Yandex Cloud, когда этот компьютер слишком медленный, появится в "
                             "следующей версии. Ничего из введённого здесь никуда не отправляется."),
    "settings.cloud_folder": ("Folder ID", "Идентификатор каталога"),
    "settings.cloud_key": ("Service account key file (JSON)", "Файл ключа сервисного аккаунта (JSON)"),
}

# engine.augment's step descriptions in Russian, keyed by the English line it shows.
PRESET_LINES_RU: dict[str, str] = {
    "Resize and centre-crop exactly as at prediction time (no randomness)":
        "Уменьшить и вырезать центр точно как при распознавании (без случайности)",
    "Crop a random 75–100 % of the picture and resize it to the input size":
        "Вырезать случайные 75–100 % картинки и привести к входному размеру",
    "Crop a random 50–100 % of the picture and resize it to the input size":
        "Вырезать случайные 50–100 % картинки и привести к входному размеру",
    "Crop a random 35–100 % of the picture and resize it to the input size":
        "Вырезать случайные 35–100 % картинки и привести к входному размеру",
    "Mirror left-right half of the time": "В половине случаев отразить слева направо",
    "Slightly change brightness and contrast (±10 %) half of the time":
        "В половине случаев немного изменить яркость и контраст (±10 %)",
    "Rotate up to 15°, shift up to 6 % and zoom ±10 % half of the time":
        "В половине случаев повернуть до 15°, сдвинуть до 6 % и масштабировать ±10 %",
    "Change brightness, contrast and saturation (±20 %) and hue a little, most of the time":
        "Чаще всего изменить яркость, контраст и насыщенность (±20 %) и немного оттенок",
    "Rotate up to 25°, shift up to 10 %, zoom ±15 % and shear up to 8° most of the time":
        "Чаще всего повернуть до 25°, сдвинуть до 10 %, масштабировать ±15 % и скосить до 8°",
    "Tilt the viewpoint a little (perspective) one time in five":
        "В одном случае из пяти немного наклонить точку зрения (перспектива)",
    "Change brightness, contrast and saturation (±30 %) and hue a little, most of the time":
        "Чаще всего изменить яркость, контраст и насыщенность (±30 %) и немного оттенок",
    "Turn the picture grey one time in ten": "В одном случае из десяти сделать картинку серой",
    "Blur slightly one time in five": "В одном случае из пяти слегка размыть",
    "Cover 1–3 random patches (8–20 % of the side) with the average colour a third of the time":
        "В трети случаев закрыть 1–3 случайных участка (8–20 % стороны) средним цветом",
}
