"""Every string the UI shows, English and Russian side by side: {key: (English, Russian)}.

Markdown is allowed. {name} fields are filled in by `ui.i18n.t`.
"""

from __future__ import annotations

from ui.i18n.strings_detection import DETECTION_STRINGS

STRINGS: dict[str, tuple[str, str]] = {
    # --- app --------------------------------------------------------------------------------
    "app.title": ("# Konstruktor\nTrain an image classifier on a few dozen pictures per class, on this computer.",
                  "# Konstruktor\nОбучите классификатор изображений на нескольких десятках картинок на класс, "
                  "прямо на этом компьютере."),
    "app.project": ("Project", "Проект"),
    "app.language": ("Language", "Язык"),
    "app.toast_error": ("Error", "Ошибка"),
    "app.gradio_complete": ("complete", "готово"),
    "app.gradio_webcam": ("Click to Access Webcam", "Нажмите, чтобы включить камеру"),
    "app.toast_warning": ("Warning", "Предупреждение"),
    "app.toast_info": ("Info", "Сообщение"),
    "app.invalid_file_type": ("{1}: this type of file is not accepted here; allowed: {2}.",
                              "{1}: такой тип файла здесь не принимается; можно: {2}."),
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
    "common.yes": ("yes", "да"),
    "common.no": ("no", "нет"),
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
    "projects.task": ("Task", "Задача"),
    "projects.task_info": ("What the models of this project will do; chosen once, when the project is created.",
                           "Что будут делать модели этого проекта; выбирается один раз, при создании."),
    "projects.bad_task": ("Choose a task from the list.", "Выберите задачу из списка."),
    # A task's name, by the task's name in engine.tasks (its English is the task's own title).
    "task.image-classification": ("Image classification", "Классификация изображений"),
    "projects.sample": ("Try a sample project", "Попробовать пример"),
    "projects.sample_name": ("Sample: faces vs. non-faces", "Пример: лица и не лица"),
    "projects.list": ("Your projects", "Ваши проекты"),
    "projects.col_name": ("Project", "Проект"),
    "projects.col_task": ("Task", "Задача"),
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
    "data.zip": ("…or upload a .zip of class folders (up to 500 MB)",
                 "…или загрузите .zip с папками классов (до 500 МБ)"),
    "data.sample": ("Try a sample", "Попробовать пример"),
    "data.checking": ("Checking pictures", "Проверяем картинки"),
    "data.empty": ("This project has no pictures yet. Import a folder or a .zip above, or try the sample.",
                   "В проекте пока нет картинок. Импортируйте папку или .zip выше или попробуйте пример."),
    "data.not_for_task": ("This project's task takes its data another way; use the forms shown here.",
                          "Задача этого проекта принимает данные иначе; воспользуйтесь формами на этой вкладке."),
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
    # --- data: class bins, leaving flagged files out, engine sentences by code (ui engineer's block) ------
    "problem.excluded": ("left out by hand (not in this dataset)", "исключён вручную (нет в этом наборе)"),
    "bins.title": ("### …or build the dataset here, class by class",
                   "### …или соберите набор здесь, класс за классом"),
    "bins.intro": ("Add a class, give it a name, then drop its pictures (or take photos with the webcam). "
                   "When every class has its pictures, press **Use these pictures**: they are checked and split "
                   "like an imported folder. The pictures are copied into the project; your files stay as they are.",
                   "Добавьте класс, назовите его и перетащите его картинки (или снимите веб-камерой). Когда у "
                   "каждого класса есть картинки, нажмите **Использовать эти картинки**: они проверяются и "
                   "делятся так же, как импортированная папка. Картинки копируются в проект; ваши файлы не "
                   "меняются."),
    "bins.class": ("Class", "Класс"),
    "bins.name": ("Name of the class", "Название класса"),
    "bins.name_placeholder": ("e.g. ripe", "например, спелые"),
    "bins.add": ("Add class", "Добавить класс"),
    "bins.rename": ("Rename", "Переименовать"),
    "bins.remove": ("Remove class…", "Удалить класс…"),
    "bins.remove_confirm": ("Remove the class **{name}** and its {n} picture(s)? Only the copies in the project go; "
                            "your own files stay.",
                            "Удалить класс **{name}** и его картинки ({n})? Удаляются только копии в проекте; "
                            "ваши файлы остаются."),
    "bins.remove_yes": ("Yes, remove it", "Да, удалить"),
    "bins.remove_no": ("Cancel", "Отмена"),
    "bins.default_name": ("Class", "Класс"),
    "bins.files": ("Drop pictures for the chosen class", "Перетащите картинки для выбранного класса"),
    "bins.webcam": ("…or take a photo for it", "…или сделайте снимок для него"),
    "bins.gallery": ("Pictures of the chosen class", "Картинки выбранного класса"),
    "bins.use": ("Use these pictures", "Использовать эти картинки"),
    "bins.remove_picture": ("Remove the selected picture", "Удалить выбранную картинку"),
    "bins.pick_picture": ("Click a picture of the class first.", "Сначала нажмите на картинку класса."),
    "bins.picture_removed": ("'{file}' removed.", "«{file}» удалена."),
    "bins.none": ("No classes yet: add a class, then drop its pictures.",
                  "Классов пока нет: добавьте класс, затем перетащите его картинки."),
    "bins.row": ("{name}: {n} picture(s)", "{name}: картинок — {n}"),
    "bins.class_added": ("Class **{name}** added. Now drop its pictures.",
                         "Класс **{name}** добавлен. Теперь перетащите его картинки."),
    "bins.renamed": ("Renamed to **{name}**.", "Переименовано в **{name}**."),
    "bins.removed": ("Class **{name}** removed.", "Класс **{name}** удалён."),
    "bins.added": ("Added {n} picture(s) to **{name}**.", "Добавлено картинок: {n} — в класс **{name}**."),
    "bins.not_added": ("Not added:", "Не добавлены:"),
    "bins.pick_class": ("Choose a class first (or add one).", "Сначала выберите класс (или добавьте его)."),
    "bins.need_two": ("Add at least two classes with two or more pictures each first.",
                      "Сначала добавьте хотя бы два класса, в каждом не меньше двух картинок."),
    "refusal.empty": ("'{file}' is empty (0 bytes).", "«{file}» — пустой файл (0 байт)."),
    "refusal.too_big": ("'{file}' is larger than {max_mb} MB.", "«{file}» больше {max_mb} МБ."),
    "refusal.not_image": ("'{file}' is not a picture Konstruktor can read ({why}).",
                          "«{file}» — не картинка, которую Konstruktor может прочитать ({why})."),
    "refusal.class_full": ("'{file}' was not added: the class already has {max} pictures.",
                           "«{file}» не добавлен: в классе уже {max} картинок."),
    "refusal.missing": ("'{file}' was not received; upload it again.", "«{file}» не получен; загрузите его снова."),
    "dataerr.empty_name": ("A class needs a name; type one.", "Классу нужно название; введите его."),
    "dataerr.hidden_char": ("The name '{name}' holds an invisible control character ({char}) that can disguise it on "
                            "screen; type the name again without it.",
                            "В названии «{name}» есть невидимый управляющий символ ({char}), который может исказить "
                            "его на экране; введите название заново без него."),
    "dataerr.long_name": ("The class name '{name}' is longer than {max} characters; shorten it.",
                          "Название класса «{name}» длиннее {max} символов; сократите его."),
    "dataerr.bad_name": ("The class name '{name}' cannot be a folder name; leave out \\ / : * ? \" < > | and dots at "
                         "the ends.",
                         "Название «{name}» не годится для имени папки; уберите \\ / : * ? \" < > | и точки по "
                         "краям."),
    "dataerr.taken": ("There already is a class named '{name}'; choose another name.",
                      "Класс «{name}» уже есть; выберите другое название."),
    "dataerr.no_class": ("There is no class '{name}' any more (it may have been removed in another window); pick a "
                         "class again.",
                         "Класса «{name}» больше нет (возможно, его удалили в другом окне); выберите класс снова."),
    "dataerr.too_many_classes": ("A project can have at most {max} classes; remove one first.",
                                 "В проекте может быть не больше {max} классов; сначала удалите один."),
    "dataerr.too_many_files": ("{n} files were dropped at once; add at most {max} at a time.",
                               "Перетащено сразу {n} файлов; добавляйте не больше {max} за раз."),
    "dataerr.no_files": ("No files were given; choose or drop some pictures.",
                         "Файлы не получены; выберите или перетащите картинки."),
    "dataerr.no_picture": ("There is no picture '{file}' in the class '{name}' any more; click a picture again.",
                           "Картинки «{file}» в классе «{name}» больше нет; нажмите на картинку снова."),
    "dataerr.exclude_none": ("None of the chosen files is in this dataset; tick files in the list.",
                             "Ни одного из выбранных файлов нет в этом наборе; отметьте файлы в списке."),
    "dataerr.exclude_empties_class": ("Leaving these files out would leave the class '{label}' with too few pictures "
                                      "to learn (it needs at least {min}, one of them for training); untick some of "
                                      "its files.",
                                      "Без этих файлов в классе «{label}» останется слишком мало картинок (нужно "
                                      "не меньше {min}, одна из них — для обучения); снимите отметку с части его "
                                      "файлов."),
    "exclude.title": ("**Leave flagged files out.** Tick files the check warned about and rebuild the dataset "
                      "without them. The current dataset stays as it is, so models trained on it stay valid.",
                      "**Исключить отмеченные файлы.** Отметьте файлы, о которых предупредила проверка, и "
                      "пересоберите набор без них. Текущий набор не меняется, поэтому обученные на нём модели "
                      "остаются в силе."),
    "exclude.files": ("Files the check warned about", "Файлы, о которых предупредила проверка"),
    "exclude.button": ("Leave the ticked files out", "Исключить отмеченные файлы"),
    "exclude.none_ticked": ("Tick at least one file first.", "Сначала отметьте хотя бы один файл."),
    "exclude.done": ("Rebuilt without {n} file(s): {total} pictures now (dataset {id}).",
                     "Набор пересобран без файлов ({n}): теперь картинок — {total} (набор {id})."),
    "exclude.reused": ("This selection was built before: {total} pictures (dataset {id}); using it.",
                       "Такой набор уже собирали: картинок — {total} (набор {id}); используем его."),
    # Why the engine chose a training mode (engine.train.MODE_REASONS, by code).
    "reason.settings": ("chosen in the settings", "выбран в настройках"),
    "reason.no_pretrained": ("no pretrained weights for {model} are on this computer, so it learns from scratch; "
                             "expect much lower accuracy with little data",
                             "предобученных весов {model} на этом компьютере нет, поэтому модель учится с нуля; "
                             "с малым количеством данных точность будет намного ниже"),
    "reason.few_images": ("the smallest class has only {smallest} training image(s): a linear head on frozen "
                          "pretrained features is the most reliable choice with so little data",
                          "в самом маленьком классе картинок для обучения всего {smallest}: линейный слой поверх "
                          "замороженных предобученных признаков — самый надёжный выбор при таком малом количестве "
                          "данных"),
    "reason.gpu": ("{smallest}+ images per class and a GPU: fine-tuning the upper layers after a linear-probe warm "
                   "start usually beats a frozen backbone",
                   "{smallest}+ картинок на класс и есть GPU: дообучение верхних слоёв после линейного зонда обычно "
                   "точнее замороженной сети"),
    "reason.cpu_slow": ("fine-tuning {total} images would take about {minutes} minutes on this CPU; a linear probe "
                        "takes seconds (pick fine-tune, or train on a GPU, for more accuracy)",
                        "дообучение на {total} картинках заняло бы на этом процессоре около {minutes} мин; линейный "
                        "зонд — секунды (для большей точности выберите дообучение или обучайте на GPU)"),
    "reason.cpu_ok": ("{smallest}+ images per class and about {minutes} minute(s) on this CPU: fine-tuning the upper "
                      "layers after a linear-probe warm start usually beats a frozen backbone",
                      "{smallest}+ картинок на класс и около {minutes} мин на этом процессоре: дообучение верхних "
                      "слоёв после линейного зонда обычно точнее замороженной сети"),
    "reason.detection_pretrained": ("the backbone of {model} is pretrained on ImageNet: the detector's head and its "
                                    "upper layers learn your boxes, which needs far fewer pictures than learning "
                                    "from scratch",
                                    "основа {model} предобучена на ImageNet: голова детектора и верхние слои "
                                    "учатся на ваших рамках — для этого нужно куда меньше картинок, чем для "
                                    "обучения с нуля"),
    # Why a run ended without a model (engine.train.FAILURE_CODES; `interrupted` is the runner's).
    "failure.cancelled": ("Training was stopped. The last checkpoint is kept; start the run again to resume it.",
                          "Обучение остановлено. Последняя контрольная точка сохранена; запустите обучение снова, "
                          "чтобы продолжить."),
    "failure.out_of_memory": ("The computer ran out of memory. Use a smaller model, a smaller batch size, or a "
                              "smaller image size.",
                              "Компьютеру не хватило памяти. Возьмите модель поменьше, меньший размер батча или "
                              "меньший размер картинок."),
    "failure.gpu_out_of_memory": ("The GPU ran out of memory. Use a smaller batch size, a smaller model, or a "
                                  "smaller image size.",
                                  "GPU не хватило памяти. Возьмите меньший размер батча, модель поменьше или "
                                  "меньший размер картинок."),
    "failure.internal_error": ("Training stopped because of an internal error ({error}). The details are in {log}.",
                               "Обучение остановилось из-за внутренней ошибки ({error}). Подробности — в {log}."),
    "failure.weights_unavailable": ("The pretrained weights of this model are not on this computer and cannot be "
                                    "downloaded now; choose a model marked “works offline”, or train from scratch.",
                                    "Предобученных весов этой модели нет на компьютере, и скачать их сейчас нельзя; "
                                    "выберите модель с отметкой «работает офлайн» или обучайте с нуля."),
    "failure.interrupted": ("The training process ended unexpectedly. The details are in {console} and {log}; start "
                            "the run again to resume it.",
                            "Процесс обучения неожиданно завершился. Подробности — в {console} и {log}; запустите "
                            "обучение снова, чтобы продолжить."),
    "cv.two_classes": ("cross-validation needs at least two classes",
                       "для перекрёстной проверки нужно хотя бы два класса"),
    "cv.one_sample": ("cross-validation needs at least 2 samples in every class; with only one: class {label}",
                      "для перекрёстной проверки нужно хотя бы 2 картинки в каждом классе; только одна в классе "
                      "{label}"),
    # Import problems in detail (engine.data.importer.PROBLEM_CODES, by code).
    "pmsg.conflict": ("The same image is in classes {classes} (also {others}); every copy was left out — keep it "
                      "only in the class it belongs to.",
                      "Одна и та же картинка есть в классах {classes} (также {others}); все копии пропущены — "
                      "оставьте её только в том классе, к которому она относится."),
    "pmsg.unreadable.empty": ("Skipped: the file is empty (0 bytes).", "Пропущен: файл пустой (0 байт)."),
    "pmsg.unreadable.not_image": ("Skipped: the file is not an image in a supported format (JPEG, PNG, WEBP, BMP, "
                                  "TIFF, GIF).",
                                  "Пропущен: файл — не картинка поддерживаемого формата (JPEG, PNG, WEBP, BMP, "
                                  "TIFF, GIF)."),
    "pmsg.unreadable.too_large": ("Skipped: the picture is too large.", "Пропущен: картинка слишком большая."),
    "pmsg.unreadable.damaged": ("Skipped: the file is damaged or truncated.", "Пропущен: файл повреждён или обрезан."),
    "pmsg.unreadable.no_pixels": ("Skipped: the picture has no pixels.", "Пропущен: в картинке нет пикселей."),
    "pmsg.unreadable.open": ("Skipped: the file cannot be opened.", "Пропущен: файл не открывается."),
    "pmsg.unreadable.decode": ("Skipped: the file cannot be decoded.", "Пропущен: файл не удаётся раскодировать."),
    "pmsg.missing": ("Skipped: row {row} of the CSV names this file, but there is no such file.",
                     "Пропущен: строка {row} CSV называет этот файл, но такого файла нет."),
    "pmsg.small_class": ("The class '{label}' has {n} usable image(s); a class needs at least {min}, so it was left "
                         "out — add more images of it.",
                         "В классе «{label}» пригодных картинок: {n}; нужно не меньше {min}, поэтому класс "
                         "пропущен — добавьте картинок."),
    "pmsg.no_train": ("The class '{label}' has no images in train/, so it cannot be learned and was left out.",
                      "В классе «{label}» нет картинок в train/, его нельзя выучить, поэтому он пропущен."),
    "pmsg.leak": ("The same image as '{kept}' in {split}; only the {split} copy was kept, so {other} results are "
                  "not inflated.",
                  "Та же картинка, что «{kept}» в части «{split}»; оставлена только копия в «{split}», чтобы "
                  "результаты на «{other}» не были завышены."),
    "pmsg.duplicate": ("An exact copy of '{kept}'; one copy was kept.", "Точная копия «{kept}»; оставлена одна копия."),
    "pmsg.ignored.loose": ("Skipped: the file is not inside a class folder.", "Пропущен: файл не в папке класса."),
    "pmsg.ignored.not_split": ("Skipped: next to train/ only val/ and test/ folders are read.",
                               "Пропущено: рядом с train/ читаются только папки val/ и test/."),
    "pmsg.tiny_image": ("Only {width}×{height} pixels; images under {min} px on a side carry little detail.",
                        "Всего {width}×{height} пикселей; в картинках меньше {min} px по стороне мало деталей."),
    "pmsg.converted": ("Converted to RGB: the image {mode}.", "Преобразована в RGB: картинка {mode}."),
    "pmsg.exif_rotated": ("Turned upright using its EXIF orientation (value {value}).",
                          "Повёрнута по метке ориентации EXIF (значение {value})."),
    "pmsg.excluded": ("Left out by hand from dataset {dataset}.", "Исключён вручную из набора {dataset}."),
    "colour.1": ("was black-and-white (1-bit)", "была чёрно-белой (1 бит)"),
    "colour.L": ("was grayscale", "была в оттенках серого"),
    "colour.LA": ("was grayscale with transparency; transparent areas were put on white",
                  "была в оттенках серого с прозрачностью; прозрачные места положены на белое"),
    "colour.La": ("was grayscale with transparency; transparent areas were put on white",
                  "была в оттенках серого с прозрачностью; прозрачные места положены на белое"),
    "colour.P": ("was a palette image", "была с палитрой"),
    "colour.PA": ("was a palette image with transparency; transparent areas were put on white",
                  "была с палитрой и прозрачностью; прозрачные места положены на белое"),
    "colour.RGBA": ("had an alpha channel; transparent areas were put on white",
                    "имела альфа-канал; прозрачные места положены на белое"),
    "colour.RGBa": ("had an alpha channel; transparent areas were put on white",
                    "имела альфа-канал; прозрачные места положены на белое"),
    "colour.CMYK": ("was CMYK", "была в CMYK"),
    "colour.I;16": ("was 16-bit; it was scaled to 8 bits", "была 16-битной; приведена к 8 битам"),
    "colour.I;16B": ("was 16-bit; it was scaled to 8 bits", "была 16-битной; приведена к 8 битам"),
    "colour.I;16L": ("was 16-bit; it was scaled to 8 bits", "была 16-битной; приведена к 8 битам"),
    "colour.I;16N": ("was 16-bit; it was scaled to 8 bits", "была 16-битной; приведена к 8 битам"),
    "colour.I": ("was 32-bit integer; it was scaled to 8 bits", "была 32-битной целочисленной; приведена к 8 битам"),
    "colour.F": ("was floating-point; it was scaled to 8 bits", "была с плавающей точкой; приведена к 8 битам"),
    "colour.YCbCr": ("was YCbCr", "была в YCbCr"),
    "colour.LAB": ("was in the Lab colour space", "была в цветовом пространстве Lab"),
    "colour.HSV": ("was HSV", "была в HSV"),
    # --- end of the ui engineer's block ---------------------------------------------------------------------
    # --- data: near-duplicate pictures, and the importer's errors by code (data engineer's block) -----------
    "problem.near_conflict": ("looks almost the same as a picture of another class (kept; check the labels)",
                              "почти такая же, как картинка другого класса (оставлена; проверьте классы)"),
    "problem.near_leak": ("looks almost the same as a picture in another split (kept; scores may be inflated)",
                          "почти такая же, как картинка в другой части выборки (оставлена; оценки могут быть "
                          "завышены)"),
    "problem.near_duplicate": ("looks almost the same as another picture of its class and split (kept)",
                               "почти такая же, как другая картинка того же класса и той же части выборки "
                               "(оставлена)"),
    "pmsg.near_conflict": ("Looks almost the same as {others} (class {classes}); if they are the same picture, keep "
                           "it only in the class it belongs to.",
                           "Почти такая же, как {others} (класс {classes}); если это одна и та же картинка, "
                           "оставьте её только в том классе, к которому она относится."),
    "pmsg.near_leak": ("Looks almost the same as {others} of the same class in {other}, while this one is in {split}: "
                       "copies in two splits make validation and test scores look better than they are — leave one "
                       "of them out.",
                       "Почти такая же, как {others} того же класса в части «{other}», а эта — в части «{split}»: "
                       "копии в двух частях выборки завышают оценки на валидации и тесте — исключите одну из них."),
    "pmsg.near_duplicate": ("Looks almost the same as {others} of the same class and split; kept.",
                            "Почти такая же, как {others} того же класса и той же части выборки; оставлена."),
    "data.near_warning": ("{n} picture(s) look almost the same as one in another class or split; see the problems "
                          "below.",
                          "Картинок, почти совпадающих с картинкой другого класса или другой части выборки: {n}; "
                          "подробности — в таблице ниже."),
    "dataerr.import_missing": ("'{source}' does not exist; check the path and choose the folder, .zip or .csv again.",
                               "«{source}» не существует; проверьте путь и снова выберите папку, .zip или .csv."),
    "dataerr.import_zip_empty": ("The zip '{name}' is empty; put a folder for each class of images in it and try "
                                 "again.",
                                 "Zip-архив «{name}» пуст; положите в него по папке на каждый класс картинок и "
                                 "попробуйте снова."),
    "dataerr.import_kind": ("'{name}' is a {suffix}; Konstruktor imports a folder, a .zip or a .csv.",
                            "«{name}» — файл {suffix}; Konstruktor импортирует папку, .zip или .csv."),
    "dataerr.import_no_suffix": ("'{name}' is a file without an extension; Konstruktor imports a folder, a .zip or "
                                 "a .csv.",
                                 "«{name}» — файл без расширения; Konstruktor импортирует папку, .zip или .csv."),
    "dataerr.csv_not_utf8": ("The CSV '{name}' is not UTF-8 text; save it again as 'CSV UTF-8'.",
                             "CSV «{name}» — не текст в UTF-8; сохраните его снова как «CSV UTF-8»."),
    "dataerr.csv_bad_row": ("Row {row} of '{name}' cannot be read as CSV ({error}); fix the row.",
                            "Строку {row} файла «{name}» не удаётся прочитать как CSV ({error}); исправьте строку."),
    "dataerr.csv_no_rows": ("The CSV '{name}' has no rows; write one 'path,label' row per image.",
                            "В CSV «{name}» нет строк; напишите по строке «path,label» (путь,класс) на каждую "
                            "картинку."),
    "dataerr.csv_bad_header": ("Row {row} of '{name}' is a header without both a 'path' and a 'label' column; name "
                               "the columns path,label (and optionally split).",
                               "Строка {row} файла «{name}» — заголовок без столбцов «path» и «label»; назовите "
                               "столбцы path,label (и, если нужно, split)."),
    "dataerr.csv_header_only": ("The CSV '{name}' has a header but no rows; write one 'path,label' row per image.",
                                "В CSV «{name}» есть заголовок, но нет строк; напишите по строке «path,label» "
                                "(путь,класс) на каждую картинку."),
    "dataerr.csv_few_columns": ("Row {row} of '{name}' has {n} column(s); every row needs a path and a label, like "
                                "'cats/1.jpg,cats'.",
                                "В строке {row} файла «{name}» столбцов: {n}; в каждой строке нужны путь и класс, "
                                "например «cats/1.jpg,cats»."),
    "dataerr.csv_empty_cell": ("Row {row} of '{name}' has an empty path or label; fill it in or delete the row.",
                               "В строке {row} файла «{name}» пустой путь или класс; заполните его или удалите "
                               "строку."),
    "dataerr.csv_bad_split": ("Row {row} of '{name}' has the split '{value}'; use train, val or test.",
                              "В строке {row} файла «{name}» указана часть выборки «{value}»; используйте train, val "
                              "или test."),
    "dataerr.csv_no_files": ("None of the {n} files listed in '{name}' exist; relative paths are read from the CSV's "
                             "folder.",
                             "Ни одного из {n} файлов, перечисленных в «{name}», не существует; относительные пути "
                             "отсчитываются от папки CSV."),
    "dataerr.csv_mixed_split": ("Row {row} of '{name}' has no split while other rows do; give every row a split or "
                                "none.",
                                "В строке {row} файла «{name}» нет части выборки, а в других строках есть; укажите "
                                "её во всех строках или ни в одной."),
    "dataerr.import_no_images": ("No images were found in '{name}'; put each class's images in a folder named after "
                                 "the class.",
                                 "В «{name}» не найдено картинок; положите картинки каждого класса в папку с "
                                 "названием класса."),
    "dataerr.import_unreadable": ("None of the {n} files in '{name}' could be read as an image; use JPEG, PNG, WEBP, "
                                  "BMP, TIFF or GIF files.",
                                  "Ни один из {n} файлов в «{name}» не читается как картинка; используйте файлы "
                                  "JPEG, PNG, WEBP, BMP, TIFF или GIF."),
    "dataerr.import_no_class": ("No class in '{name}' has at least {min} usable images; a classifier needs at least "
                                "two classes with two or more images each.",
                                "Ни в одном классе в «{name}» нет хотя бы {min} пригодных картинок; классификатору "
                                "нужно не меньше двух классов, в каждом две картинки или больше."),
    "dataerr.import_no_class_train": ("No class in '{name}' has at least {min} usable images in train/; a classifier "
                                      "needs at least two classes with two or more images each.",
                                      "Ни в одном классе в «{name}» нет хотя бы {min} пригодных картинок в train/; "
                                      "классификатору нужно не меньше двух классов, в каждом две картинки или "
                                      "больше."),
    "dataerr.import_one_class": ("Only one class ('{label}') has enough images; a classifier needs at least two, so "
                                 "add a folder of images for another class.",
                                 "Достаточно картинок только в одном классе («{label}»); классификатору нужно хотя "
                                 "бы два, поэтому добавьте папку с картинками другого класса."),
    "dataerr.import_single_class": ("Only one class ('{label}') has images; a classifier needs at least two, so add "
                                    "a folder of images for another class.",
                                    "Картинки есть только в одном классе («{label}»); классификатору нужно хотя бы "
                                    "два, поэтому добавьте папку с картинками другого класса."),
    "dataerr.bad_fractions": ("The validation and test fractions ({val}, {test}) must each be between 0 and 1 and add "
                              "up to less than 1; lower them.",
                              "Доли валидации и теста ({val}, {test}) должны быть каждая от 0 до 1 и в сумме меньше "
                              "1; уменьшите их."),
    "dataerr.zip_too_many": ("The zip '{name}' was refused: it holds {n:,} entries, more than the limit of {max:,}; "
                             "re-create the archive from the image folders.",
                             "Zip-архив «{name}» отклонён: в нём записей — {n:,}, больше предела в {max:,}; "
                             "создайте архив заново из папок с картинками."),
    "dataerr.zip_outside": ("The zip '{name}' was refused: the member '{member}' points outside the folder it would "
                            "be extracted to; re-create the archive from the image folders.",
                            "Zip-архив «{name}» отклонён: элемент «{member}» указывает за пределы папки, куда его "
                            "распаковали бы; создайте архив заново из папок с картинками."),
    "dataerr.zip_symlink": ("The zip '{name}' was refused: the member '{member}' is a symbolic link; re-create the "
                            "archive from the image folders.",
                            "Zip-архив «{name}» отклонён: элемент «{member}» — символическая ссылка; создайте архив "
                            "заново из папок с картинками."),
    "dataerr.zip_too_big": ("The zip '{name}' was refused: it unpacks to more than {gib:.1f} GiB (reached at member "
                            "'{member}'); re-create the archive from the image folders.",
                            "Zip-архив «{name}» отклонён: распакованный, он больше {gib:.1f} ГиБ (предел достигнут "
                            "на элементе «{member}»); создайте архив заново из папок с картинками."),
    "dataerr.zip_bomb": ("The zip '{name}' was refused: the member '{member}' expands more than {ratio:.0f} times, "
                         "like a zip bomb; re-create the archive from the image folders.",
                         "Zip-архив «{name}» отклонён: элемент «{member}» распаковывается больше чем в {ratio:.0f} "
                         "раз, как zip-бомба; создайте архив заново из папок с картинками."),
    "dataerr.zip_password": ("The zip '{name}' is password-protected (member '{member}'); zip the images again "
                             "without a password.",
                             "Zip-архив «{name}» защищён паролем (элемент «{member}»); заархивируйте картинки снова "
                             "без пароля."),
    "dataerr.zip_damaged": ("The zip '{name}' is damaged at member '{member}' ({error}); re-create or re-download it.",
                            "Zip-архив «{name}» повреждён на элементе «{member}» ({error}); создайте или скачайте "
                            "его заново."),
    "dataerr.zip_method": ("The zip '{name}' uses a compression method that cannot be read ({error}); re-create it "
                           "with ordinary (deflate) compression.",
                           "Zip-архив «{name}» сжат методом, который не удаётся прочитать ({error}); создайте его "
                           "заново с обычным сжатием (deflate)."),
    "dataerr.zip_unreadable": ("The file '{name}' is not a readable zip archive (it may be damaged); re-create or "
                               "re-download it.",
                               "Файл «{name}» — не читаемый zip-архив (возможно, он повреждён); создайте или скачайте "
                               "его заново."),
    # --- end of the data engineer's block -------------------------------------------------------------------
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
    "train.default_placeholder": ("default", "по умолчанию"),
    "train.epochs": ("Epochs", "Эпохи"),
    "train.epochs_info": ("Passes over the data; empty = the mode's default.",
                          "Проходы по данным; пусто — по умолчанию для режима."),
    "train.batch": ("Batch size", "Размер батча"),
    "train.batch_info": ("Pictures per training step; empty = the model's default (32; YOLO 16).",
                         "Картинок на шаг обучения; пусто — значение модели (32; у YOLO 16)."),
    "train.lr": ("Learning rate", "Скорость обучения"),
    "train.lr_info": ("Empty = the mode's default.", "Пусто — по умолчанию для режима."),
    "train.seed": ("Random seed", "Зерно случайности"),
    "train.cv": ("Cross-validation", "Кросс-валидация"),
    "train.cv_info": ("Scores the model on many splits of the data, which shows how far a small test set can be "
                      "trusted; `auto` does it when the validation set is small.",
                      "Оценивает модель на многих разбиениях данных — видно, насколько можно верить маленькой "
                      "тестовой выборке; «авто» включает её, когда валидационная выборка мала."),
    "train.cv_auto": ("auto", "авто"),
    "train.resolved": ("Settings used: {settings}", "Настройки запуска: {settings}"),
    "train.pixels": ("{n} px", "{n} px"),
    # The run's resolved settings (the `start` event's `resolved`), by their names in engine.config.
    "resolved.epochs": ("epochs", "эпох"),
    "resolved.lr": ("learning rate", "скорость обучения"),
    "resolved.batch_size": ("batch", "батч"),
    "resolved.image_size": ("pictures", "картинки"),
    "resolved.patience": ("patience", "терпение"),
    "resolved.cv": ("cross-validation", "кросс-валидация"),
    "resolved.budget_minutes": ("time limit", "лимит времени"),
    "resolved.seed": ("seed", "зерно"),
    "resolved.workers": ("loader workers", "потоков загрузки"),
    "resolved.augment.preset": ("augmentation", "аугментация"),
    "resolved.augment.hflip": ("mirroring", "отражение"),
    "train.cv_on": ("on", "вкл."),
    "train.cv_off": ("off", "выкл."),
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
    "train.bad_field": ("**{field}**: {value} is not allowed. Enter {allowed}, or leave the field empty for the "
                        "default.",
                        "**{field}**: {value} не подходит. Введите {allowed} или оставьте поле пустым — тогда будет "
                        "значение по умолчанию."),
    "train.allowed_range": ("a whole number from {lo} to {hi}", "целое число от {lo} до {hi}"),
    "train.allowed_above": ("a number greater than {lo}", "число больше {lo}"),
    "train.allowed_whole": ("a whole number", "целое число"),
    "train.allowed_number": ("a number", "число"),
    "train.running_what": ("**{model}** · {mode} · on {device}", "**{model}** · {mode} · на {device}"),
    "train.eta": ("about {eta} left", "осталось около {eta}"),
    "train.epoch_done": ("Epoch {epoch} of {epochs} done.", "Эпоха {epoch} из {epochs} завершена."),
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
    "train.best_epoch": ("best: epoch {epoch}", "лучшая: эпоха {epoch}"),
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
    "eval.col_precision": ("precision", "точность"),
    "eval.col_recall": ("recall", "полнота"),
    "eval.per_class_means": ("*precision*: when the model names this class, how often it is right; *recall*: how "
                             "many pictures of this class it finds; *F1* combines the two.",
                             "*точность*: как часто модель права, когда называет этот класс; *полнота*: какую долю "
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
    "export.contents": ("The package's main files: {files}.", "Основные файлы пакета: {files}."),
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
    "runs.col_data": ("data", "данные"),
    "runs.col_time": ("train, s", "обучение, с"),
    "runs.col_size": ("size, MB", "размер, МБ"),
    "runs.choose": ("Use as the project's model", "Сделать моделью проекта"),
    "runs.resume": ("Resume", "Продолжить"),
    "runs.reload": ("Reload", "Обновить"),
    "runs.choose_done_only": ("Only a finished run can be the project's model.",
                              "Моделью проекта может быть только завершённый запуск."),
    "runs.chosen": ("**{run}** is now the project's model.", "**{run}** теперь модель проекта."),
    "runs.resume_only": ("Only a stopped, interrupted or failed run can be resumed.",
                         "Продолжить можно только остановленный, прерванный или неудачный запуск."),
    # --- opening a model made elsewhere (engine/open_model.py) ---------------------------------
    "dataerr.open_missing": ("'{name}' does not exist; choose the exported .zip or folder again.",
                             "«{name}» не существует; выберите экспортированный .zip или папку ещё "
                             "раз."),
    "dataerr.open_kind": ("'{name}' is not a .zip or a folder; open the .zip that Export wrote, or a "
                          "zipped run folder.",
                          "«{name}» — не .zip и не папка; откройте .zip, записанный экспортом, или "
                          "папку запуска в .zip."),
    "dataerr.open_task_unsupported": ("'{name}' holds a model for {task}; this version opens image classifiers only. "
                                      "Use the package's own predict.py, or train the model in this workspace.",
                                      "В «{name}» — модель для задачи «{task}»; эта версия открывает только "
                                      "классификаторы картинок. Запустите predict.py из самого пакета или обучите "
                                      "модель в этом рабочем пространстве."),
    "dataerr.open_not_model": ("'{name}' holds neither an exported package (model.onnx, labels.json, "
                               "preprocess.json) nor a run folder (config.yaml, checkpoints/best.pt); "
                               "open the .zip that Export wrote, or a zipped run folder.",
                               "В «{name}» нет ни экспортированного пакета (model.onnx, labels.json, "
                               "preprocess.json), ни папки запуска (config.yaml, "
                               "checkpoints/best.pt); откройте .zip, записанный экспортом, или папку "
                               "запуска в .zip."),
    "dataerr.open_no_file": ("The package '{name}' has no {file}; export the run again (python -m "
                             "engine export RUN) and open the new .zip.",
                             "В пакете «{name}» нет {file}; экспортируйте запуск заново (python -m "
                             "engine export RUN) и откройте новый .zip."),
    "dataerr.open_bad_json": ("{file} in '{name}' is not valid JSON; export the run again (python -m "
                              "engine export RUN) and open the new .zip.",
                              "{file} в «{name}» — не корректный JSON; экспортируйте запуск заново "
                              "(python -m engine export RUN) и откройте новый .zip."),
    "dataerr.open_bad_labels": ("labels.json in '{name}' is not a list of two or more different class "
                                "names; export the run again (python -m engine export RUN) and open "
                                "the new .zip.",
                                "labels.json в «{name}» — не список из двух или более разных имён "
                                "классов; экспортируйте запуск заново (python -m engine export RUN) и "
                                "откройте новый .zip."),
    "dataerr.open_bad_preprocess": ("preprocess.json in '{name}' has no valid '{key}'; export the run "
                                    "again (python -m engine export RUN) and open the new .zip.",
                                    "В preprocess.json из «{name}» нет корректного «{key}»; "
                                    "экспортируйте запуск заново (python -m engine export RUN) и "
                                    "откройте новый .zip."),
    "dataerr.open_bad_report": ("export_report.json in '{name}' is not a Konstruktor export report; "
                                "export the run again (python -m engine export RUN) and open the new "
                                ".zip.",
                                "export_report.json в «{name}» — не отчёт экспорта Konstruktor; "
                                "экспортируйте запуск заново (python -m engine export RUN) и откройте "
                                "новый .zip."),
    "dataerr.open_labels_differ": ("{file} in '{name}' lists other classes than labels.json; the "
                                   "files come from different exports: export the run again (python "
                                   "-m engine export RUN) and open the new .zip.",
                                   "{file} в «{name}» называет другие классы, чем labels.json; файлы "
                                   "из разных экспортов: экспортируйте запуск заново (python -m "
                                   "engine export RUN) и откройте новый .zip."),
    "dataerr.open_parity_failed": ("The package '{name}' failed its own check at export ({file} "
                                   "disagreed with the trained model); export the run again (python "
                                   "-m engine export RUN) and open the new .zip.",
                                   "Пакет «{name}» не прошёл собственную проверку при экспорте "
                                   "({file} расходился с обученной моделью); экспортируйте запуск "
                                   "заново (python -m engine export RUN) и откройте новый .zip."),
    "dataerr.open_onnx_unreadable": ("model.onnx in '{name}' cannot be read by ONNX Runtime "
                                     "({error}); export the run again (python -m engine export RUN) "
                                     "and open the new .zip.",
                                     "ONNX Runtime не может прочитать model.onnx из «{name}» "
                                     "({error}); экспортируйте запуск заново (python -m engine export "
                                     "RUN) и откройте новый .zip."),
    "dataerr.open_onnx_input": ("model.onnx in '{name}' does not take a batch of 3 x {size} x {size} "
                                "images as preprocess.json says; export the run again (python -m "
                                "engine export RUN) and open the new .zip.",
                                "model.onnx из «{name}» не принимает пакет изображений 3 x {size} x "
                                "{size}, как сказано в preprocess.json; экспортируйте запуск заново "
                                "(python -m engine export RUN) и откройте новый .zip."),
    "dataerr.open_class_count": ("model.onnx in '{name}' gives {outputs} outputs but labels.json "
                                 "names {classes} classes; the files come from different exports: "
                                 "export the run again (python -m engine export RUN) and open the new "
                                 ".zip.",
                                 "model.onnx из «{name}» выдаёт {outputs} выходов, а в labels.json "
                                 "{classes} классов; файлы из разных экспортов: экспортируйте запуск "
                                 "заново (python -m engine export RUN) и откройте новый .zip."),
    "dataerr.open_pickle": ("{file} in '{name}' was refused: loading it would run Python code stored "
                            "inside it (a pickle payload), and only plain weight files are opened; "
                            "ask for a package exported by Konstruktor.",
                            "{file} в «{name}» отклонён: при загрузке он выполнил бы сохранённый в "
                            "нём код Python (pickle), а открываются только обычные файлы весов; "
                            "попросите пакет, экспортированный Konstruktor."),
    "dataerr.open_bad_checkpoint": ("{file} in '{name}' is not a Konstruktor checkpoint this version "
                                    "can use ({error}); export or zip the run again.",
                                    "{file} в «{name}» — не контрольная точка Konstruktor, пригодная "
                                    "для этой версии ({error}); экспортируйте или упакуйте запуск "
                                    "заново."),
    "dataerr.open_run_config": ("The run folder '{name}' has an unusable config.yaml ({error}); zip "
                                "the run folder again.",
                                "В папке запуска «{name}» непригодный config.yaml ({error}); упакуйте "
                                "папку запуска заново."),
    "dataerr.open_run_unfinished": ("The run in '{name}' has not finished training; finish it where "
                                    "it was trained, then zip its folder again.",
                                    "Запуск в «{name}» не закончил обучение; завершите его там, где "
                                    "он обучался, и снова упакуйте его папку."),
    "dataerr.open_no_project": ("There is no project '{project}' in this workspace; create it first "
                                "or leave --project out.",
                                "В этом рабочем пространстве нет проекта «{project}»; сначала "
                                "создайте его или не указывайте --project."),
    "dataerr.open_eval_classes": ("The data has classes this model does not know ({classes}); it can "
                                  "be scored only on data with the classes {labels}.",
                                  "В данных есть классы, которых эта модель не знает ({classes}); "
                                  "оценить её можно только на данных с классами {labels}."),
    "dataerr.open_no_gradcam": ("Grad-CAM needs the model's PyTorch weights (model.pt), and the package '{name}' "
                                "has only the ONNX model; the classes shown still come from it.",
                                "Для Grad-CAM нужны веса модели для PyTorch (model.pt), а в пакете «{name}» есть "
                                "только модель ONNX; показанные классы всё равно получены от неё."),
    "export.ready_imported": ("This model was opened from an exported package without PyTorch weights: "
                              "**Export for use elsewhere** offers that package again.",
                              "Эта модель открыта из экспортированного пакета без весов PyTorch: "
                              "**Экспорт для работы в другом месте** снова предложит этот пакет."),
    "runs.open_file": ("Open a model… (.zip from Export, or a zipped run folder)",
                       "Открыть модель… (.zip из экспорта или папка запуска в .zip)"),
    "runs.open": ("Open the model", "Открыть модель"),
    "runs.open_need_file": ("Choose a .zip first: a package from Export, or a zipped run folder.",
                            "Сначала выберите .zip: пакет из экспорта или папку запуска в .zip."),
    "runs.open_need_project": ("Open or create a project first.", "Сначала откройте или создайте проект."),
    "runs.opened_package": ("Opened the exported package **{model}** ({n} classes) as the run **{run}**; test it "
                            "in **Test**.",
                            "Экспортированный пакет **{model}** ({n} классов) открыт как запуск **{run}**; "
                            "проверьте его на вкладке **Проверка**."),
    "runs.opened_run": ("Opened the run folder **{model}** ({n} classes) as the run **{run}**, with its checkpoints "
                        "and metrics.",
                        "Папка запуска **{model}** ({n} классов) открыта как запуск **{run}**, с контрольными "
                        "точками и метриками."),
    "runs.opened_scored": ("Scored on this project's data ({split}): right {accuracy} of the time (see **Evaluate**).",
                           "Оценка на данных проекта ({split}): верно в {accuracy} случаев (см. **Оценка**)."),
    "runs.opened_unscored": ("This project's data has other classes, so it was not scored here.",
                             "В данных проекта другие классы, поэтому здесь она не оценивалась."),
    "runs.open_failed": ("The model was not opened: {why}", "Модель не открыта: {why}"),
    "runs.imported": ("imported", "импортирована"),
    # --- runs: side by side (compare engineer) -------------------------------------------------
    "runs.pick": ("Pick 2–4 finished runs to see side by side", "Выберите 2–4 завершённых запуска для сравнения"),
    "runs.side_by_side": ("Compare side by side", "Сравнить рядом"),
    "runs.pick_2_4": ("Pick two to four finished runs of this project.",
                      "Выберите от двух до четырёх завершённых запусков этого проекта."),
    "runs.sbs_summary": ("Side by side", "Рядом"),
    "runs.sbs_per_class": ("F1 per class", "F1 по классам"),
    "runs.sbs_matrices": ("Confusion matrices (test)", "Матрицы ошибок (тест)"),
    "runs.row_model": ("model", "модель"),
    "runs.row_mode": ("mode", "режим"),
    "runs.row_data": ("data fingerprint", "отпечаток данных"),
    "runs.row_split": ("scored on", "оценка на"),
    "runs.row_accuracy": ("accuracy", "точность"),
    "runs.row_balanced": ("balanced accuracy", "сбалансированная точность"),
    "runs.row_f1": ("macro-F1", "macro-F1"),
    "runs.row_cv": ("cross-validated accuracy (mean ± std)", "точность на перекрёстной проверке (среднее ± откл.)"),
    "runs.row_time": ("train time, s", "время обучения, с"),
    "runs.row_size": ("size of best.pt, MB", "размер best.pt, МБ"),
    "runs.row_params": ("parameters, M", "параметров, млн"),
    "runs.row_epochs": ("epochs run (best)", "эпох пройдено (лучшая)"),
    "runs.same_data": ("All picked runs used the same data.", "Все выбранные запуски обучены на одних данных."),
    "runs.other_data": ("Careful: the picked runs used different data, so their scores are not directly comparable.",
                        "Осторожно: выбранные запуски обучены на разных данных, их оценки нельзя сравнивать напрямую."),
    # --- compare ------------------------------------------------------------------------------
    "tab.compare": ("Compare", "Сравнение"),
    "cmp.intro": ("Train several models and modes on the same split within a time budget and see which is best. "
                  "Candidates that won't fit the budget are skipped, with the reason. Each one becomes an ordinary "
                  "run of this project (see **Runs**).",
                  "Обучите несколько моделей и режимов на одном и том же разбиении за отведённое время и узнайте, "
                  "какая лучше. Кандидаты, которые не успеют, пропускаются с объяснением. Каждый становится "
                  "обычным запуском проекта (см. **Запуски**)."),
    "cmp.candidates": ("Candidates (model · mode)", "Кандидаты (модель · режим)"),
    "cmp.candidates_info": ("The ticked ones are the default set for this computer.",
                            "Отмечен набор по умолчанию для этого компьютера."),
    "cmp.budget": ("Time budget, minutes", "Время на всё, минут"),
    "cmp.search": ("Search learning rate and epochs", "Подобрать скорость обучения и число эпох"),
    "cmp.search_info": ("Up to 4 trials per fine-tune candidate, all shown in the table; the best is starred.",
                        "До 4 попыток на кандидата с дообучением, все видны в таблице; лучшая отмечена звёздочкой."),
    "cmp.start": ("Start comparing", "Начать сравнение"),
    "cmp.stop": ("Stop", "Остановить"),
    "cmp.table": ("Leaderboard", "Таблица результатов"),
    "cmp.none_picked": ("Tick at least one candidate.", "Отметьте хотя бы одного кандидата."),
    "cmp.bad_choice": ("That candidate is not on the list; reload the page and pick again.",
                       "Такого кандидата нет в списке; обновите страницу и выберите снова."),
    "cmp.busy_train": ("A training run is going in this project; wait for it or stop it before comparing.",
                       "В проекте идёт обучение; дождитесь его или остановите, прежде чем сравнивать."),
    "cmp.busy": ("A comparison is already running in this project.", "В этом проекте сравнение уже идёт."),
    "cmp.nothing_running": ("No comparison is running.", "Сравнение не идёт."),
    "cmp.stopped": ("Stopped. The table keeps what finished.", "Остановлено. В таблице осталось то, что успело завершиться."),
    "cmp.status_starting": ("Starting…", "Запускается…"),
    "cmp.status_running": ("Running: {done} of {total} trials finished; now **{what}**.",
                           "Идёт: завершено {done} из {total} попыток; сейчас **{what}**."),
    "cmp.status_done": ("Done in {time}.", "Готово за {time}."),
    "cmp.status_cancelled": ("Stopped after {time}.", "Остановлено через {time}."),
    "cmp.status_failed": ("The comparison failed; the details are in console.log in {folder}.",
                          "Сравнение завершилось ошибкой; подробности — в console.log в папке {folder}."),
    "cmp.status_interrupted": ("The comparison process ended unexpectedly; the table keeps what finished.",
                               "Процесс сравнения неожиданно завершился; в таблице осталось то, что успело "
                               "завершиться."),
    "cmp.recommended": ("**Recommended:** {reason}", "**Рекомендуем:** {reason}"),
    "cmp.no_recommendation": ("No candidate has finished yet.", "Ни один кандидат ещё не завершился."),
    # The recommendation: engine.compare.REASONS and PARTS, said again in Russian (the English must match).
    "cmp.reason.none": ("No candidate finished, so there is nothing to recommend yet.",
                        "Ни один кандидат не завершился, рекомендовать пока нечего."),
    "cmp.reason.only": ("{name}: the only candidate that finished ({score} {evidence}).",
                        "{name}: единственный завершившийся кандидат ({score} {evidence})."),
    "cmp.reason.best": ("{name}: the best {metric} ({score} {evidence}), {gap} points above the next ({second}, "
                        "{second_score}), more than the spread of {tol} points.",
                        "{name}: лучший результат по метрике «{metric}» ({score} {evidence}), на {gap} п. выше "
                        "следующего ({second}, {second_score}) — больше разброса в {tol} п."),
    "cmp.part.metric.accuracy": ("accuracy", "точность"),
    "cmp.part.metric.map50_95": ("mAP50-95", "mAP50-95"),
    "cmp.reason.tie": ("{name}: tied within the spread with {others} ({range} {evidence}{noise}); "
                       "{pick}{pretrained}: {cost}.",
                       "{name}: в пределах разброса наравне {others} ({range} {evidence}{noise}); "
                       "{pick}{pretrained}: {cost}."),
    "cmp.part.evidence.cv": ("by cross-validation on {n_cv} labelled pictures, as {n} test pictures are too few",
                             "по кросс-валидации на {n_cv} размеченных картинках: тестовых всего {n}"),
    "cmp.part.evidence.mixed": ("by cross-validation on {n_cv} labelled pictures where a candidate has it, else on "
                                "{n} test pictures",
                                "по кросс-валидации на {n_cv} размеченных картинках, где она есть, иначе по {n} "
                                "тестовым"),
    "cmp.part.evidence.test": ("on {n} test pictures", "на {n} тестовых картинках"),
    "cmp.part.evidence.val": ("on {n} validation pictures", "на {n} картинках валидации"),
    "cmp.part.range.same": ("all {score}", "у всех {score}"),
    "cmp.part.range.span": ("{low} to {high}", "от {low} до {high}"),
    "cmp.part.noise": ("; differences under {tol} points are noise here",
                       "; разница меньше {tol} п. здесь — шум"),
    "cmp.part.others.one": ("one other candidate", "ещё с одним кандидатом"),
    "cmp.part.others.many": ("{n} other candidates", "ещё с {n} кандидатами"),
    "cmp.part.pick.light": ("the lighter and faster one", "выбран более лёгкий и быстрый"),
    "cmp.part.pick.cheap": ("the cheapest one to train and run", "выбран самый дешёвый в обучении и работе"),
    "cmp.part.pretrained": (", pretrained rather than trained from scratch", ", предобученный, а не обученный с нуля"),
    "cmp.part.cost.train": ("{s} s to train", "обучение {s} с"),
    "cmp.part.cost.latency": ("{ms} ms per picture", "{ms} мс на картинку"),
    "cmp.part.cost.faster": ("{ms} ms per picture ({times}× faster than {slow})",
                             "{ms} мс на картинку (в {times} раза быстрее, чем {slow})"),
    "cmp.part.cost.size": ("{mb} MB", "{mb} МБ"),
    "cmp.col_candidate": ("candidate", "кандидат"),
    "cmp.col_trial": ("trial", "попытка"),
    "cmp.col_status": ("status", "состояние"),
    "cmp.col_pictures": ("pictures", "картинок"),
    "cmp.col_spread": ("spread", "разброс"),
    "cmp.spread_cv": ("{mean} ± {std}, CV on {n}", "{mean} ± {std}, КВ на {n}"),
    "cmp.spread_seeds": ("{mean} ± {std} over seeds", "{mean} ± {std} по запускам"),
    "cmp.col_train": ("train, s", "обучение, с"),
    "cmp.col_latency": ("latency, ms", "задержка, мс"),
    "cmp.col_params": ("parameters, M", "параметров, млн"),
    "cmp.col_size": ("size, MB", "размер, МБ"),
    "cmp.col_note": ("note", "примечание"),
    "cmp.row.pending": ("waiting", "ждёт"),
    "cmp.row.running": ("training", "обучается"),
    "cmp.row.done": ("done", "готово"),
    "cmp.row.failed": ("failed", "ошибка"),
    "cmp.row.skipped": ("skipped", "пропущен"),
    "cmp.row.cancelled": ("stopped", "остановлен"),
    "cmp.msg.skipped_budget": ("skipped: needs about {need} by the estimate, {left} of the budget left",
                               "пропущен: по оценке нужно около {need}, а осталось {left}"),
    "cmp.msg.not_run": ("not run: the comparison was stopped", "не запускался: сравнение остановлено"),
    "cmp.msg.stopped": ("stopped before it finished", "остановлен, не завершившись"),
    "cmp.latency_how": ("Latency: one image at a time on the CPU (PyTorch, median of 20), network only.",
                        "Задержка: одно изображение за раз на CPU (PyTorch, медиана 20 замеров), только сеть."),
    # --- settings ---------------------------------------------------------------------------
    "settings.workspace": ("Everything Konstruktor keeps (projects, imported pictures, runs, caches) is in "
                           "`{root}`. Start the app with `--workspace DIR` to use another folder.",
                           "Всё, что хранит Konstruktor (проекты, импортированные картинки, запуски, кэши), "
                           "лежит в `{root}`. Чтобы использовать другую папку, запустите приложение с "
                           "`--workspace DIR`."),
    "settings.log": ("The app's log", "Журнал приложения"),
    "settings.log_show": ("Show the latest lines", "Показать последние строки"),
    "settings.log_file": ("logs/ui.log in the workspace", "logs/ui.log в рабочей папке"),
    "settings.log_empty": ("The log is empty so far.", "Журнал пока пуст."),
    "settings.cloud": ("Yandex Cloud", "Yandex Cloud"),
    "settings.cloud_intro": ("Train on a Yandex Cloud GPU VM when this computer is too slow. You need a folder, an "
                             "Object Storage bucket and a service-account authorized key (roles compute.editor, "
                             "storage.editor, iam.serviceAccounts.user). The key is kept only in this workspace, "
                             "readable by you alone.",
                             "Обучение на виртуальной машине с GPU в Yandex Cloud, когда этот компьютер слишком "
                             "медленный. Нужны каталог, бакет Object Storage и авторизованный ключ сервисного "
                             "аккаунта (роли compute.editor, storage.editor, iam.serviceAccounts.user). Ключ "
                             "хранится только в этой рабочей папке и доступен только вам."),
    "settings.cloud_folder": ("Folder ID", "Идентификатор каталога"),
    "settings.cloud_key": ("Service account key file (JSON)", "Файл ключа сервисного аккаунта (JSON)"),
    # --- Yandex Cloud (issue #6) ---------------------------------------------------------------
    "settings.cloud_bucket": ("Object Storage bucket", "Бакет Object Storage"),
    "settings.cloud_zone": ("Zone", "Зона"),
    "settings.cloud_oauth": ("…or an OAuth token instead of a key", "…или OAuth-токен вместо ключа"),
    "settings.cloud_platform": ("GPU", "GPU"),
    "settings.cloud_gpus": ("GPUs per VM", "GPU на машину"),
    "settings.cloud_preemptible": ("Preemptible VM (much cheaper; may be stopped, the job then resumes on a new one)",
                                   "Прерываемая ВМ (намного дешевле; может быть остановлена, тогда задача "
                                   "продолжится на новой)"),
    "settings.cloud_hours": ("Hard time limit, hours", "Жёсткий лимит времени, часов"),
    "settings.cloud_save": ("Save", "Сохранить"),
    "settings.cloud_check": ("Check connection", "Проверить подключение"),
    "settings.cloud_saved": ("Saved.", "Сохранено."),
    "settings.cloud_key_saved": ("A key of service account `{sa}` is saved.", "Сохранён ключ сервисного аккаунта `{sa}`."),
    "settings.cloud_oauth_saved": ("An OAuth token is saved.", "Сохранён OAuth-токен."),
    "settings.cloud_no_key": ("No key is saved yet.", "Ключ ещё не сохранён."),
    "settings.cloud_estimate": ("Cost: {text}", "Стоимость: {text}"),
    "settings.cloud_bad_zone": ("Choose a zone from the list.", "Выберите зону из списка."),
    "settings.cloud_bad_number": ("The number of GPUs and the time limit must be numbers.",
                                  "Число GPU и лимит времени должны быть числами."),
    "train.cloud_setup_first": ("Yandex Cloud is not set up yet: fill in the folder, bucket and key in Settings.",
                                "Yandex Cloud ещё не настроен: укажите каталог, бакет и ключ в Настройках."),
    "train.cloud_estimate": ("Training will run on Yandex Cloud. {text}", "Обучение пройдёт в Yandex Cloud. {text}"),
    # --- Yandex Cloud: leftover VMs, the auto target, the paid-run confirmation ----------------
    "settings.leftovers": ("**Leftover cloud VMs: {n}.** No training owns them, yet they run and cost money: {ids}.",
                           "**Оставшихся облачных ВМ: {n}.** Ни одно обучение ими не владеет, но они работают и "
                           "стоят денег: {ids}."),
    "settings.leftovers_warning": ("Leftover cloud VMs that no training owns are running and cost money ({n}). "
                                   "Settings → Yandex Cloud deletes them.",
                                   "Работают облачные ВМ, которыми не владеет ни одно обучение, и они стоят денег "
                                   "({n}). Удалить их можно в Настройках → Yandex Cloud."),
    "settings.leftovers_check": ("Check for leftover VMs", "Проверить оставшиеся ВМ"),
    "settings.leftovers_delete": ("Delete leftover VMs", "Удалить оставшиеся ВМ"),
    "settings.leftovers_none": ("No leftover cloud VMs.", "Оставшихся облачных ВМ нет."),
    "settings.leftovers_deleted": ("Deleted leftover VMs: {n}.", "Удалено оставшихся ВМ: {n}."),
    "settings.leftovers_no_cloud": ("Yandex Cloud is not set up yet: save the folder, bucket and key above first.",
                                    "Yandex Cloud ещё не настроен: сначала сохраните каталог, бакет и ключ выше."),
    "train.where_auto": ("Decide for me", "Решить за меня"),
    "train.auto_decided": ("**Decided for you.** {why}", "**Решено за вас.** {why}"),
    "target.gpu": ("Training on this computer's GPU.", "Обучаем на GPU этого компьютера."),
    "target.small_job": ("A small job ({n} images, {mode}): training on this computer's CPU.",
                         "Небольшая задача ({n} картинок, {mode}): обучаем на процессоре этого компьютера."),
    "target.big_job": ("No GPU here and the job is big ({n} images, {mode}): training on Yandex Cloud.",
                       "GPU здесь нет, а задача большая ({n} картинок, {mode}): обучаем в Yandex Cloud."),
    "target.no_cloud": ("No GPU here and Yandex Cloud is not set up: training on this CPU, which may take about "
                        "{minutes} minutes.",
                        "GPU здесь нет, а Yandex Cloud не настроен: обучаем на процессоре, это может занять около "
                        "{minutes} мин."),
    "train.cost": ("{gpus}× {title}{preemptible}: about {hourly} {currency}/hour, at most {total} {currency} for the "
                   "{hours}-hour limit (prices of {date}, approximate).",
                   "{gpus}× {title}{preemptible}: около {hourly} {currency}/час, не больше {total} {currency} за "
                   "лимит {hours} ч (цены на {date}, примерно)."),
    "train.cost_preemptible": (" (preemptible)", " (прерываемая)"),
    "train.start_cloud": ("Start in the cloud (about {hourly} {currency}/hour, at most {total} {currency})",
                          "Начать в облаке (около {hourly} {currency}/час, не больше {total} {currency})"),
    "train.cloud_confirm": ("**Training in Yandex Cloud is paid.** {cost} Start it with the **Start in the cloud** "
                            "button, or choose this computer.",
                            "**Обучение в Yandex Cloud платное.** {cost} Запустите его кнопкой **Начать в облаке** "
                            "или выберите этот компьютер."),
    "train.cloud_price_changed": ("The cloud settings changed after the price was shown; check the new price and "
                                  "click again.",
                                  "Настройки облака изменились после показа цены; проверьте новую цену и нажмите "
                                  "ещё раз."),
}
STRINGS.update(DETECTION_STRINGS)

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
