# Handwritten-digit recognition inside MicroPython.
#   import mnist
#   mnist.run()              test digits one after another on the screen and the console (Ctrl-C stops)
#   mnist.predict(7)         (prediction, ten scores, microseconds) for test digit 7
#   mnist.evaluate()         accuracy over every test digit
#   mnist.load_model(path)   use another model; mnist.decode(7) puts digit 7 into the model's input
#   mnist.draw()             draw a digit on the touch screen (DISCO, or the emulated board's viewer), have it read

import random
import time

from . import files

_classifier = None
_digits = None


def _report(text):
    print("mnist:", text)


def load_model(path=None, report=_report):
    """The classifier for the model at `path`, or the best there is: a model file in /flash beats the frozen
    model; a file that does not load is reported and the frozen model is used."""
    global _classifier
    from .classifier import Classifier

    if path is not None:
        data = files.read(path)
        files.check_model(data)
        _classifier = Classifier(data, path)
        return _classifier
    problem = None
    for source, load in files.model_sources():
        try:
            data = load()
            files.check_model(data)
            _classifier = Classifier(data, source)
        except Exception as e:  # whatever is wrong with a pushed file, the frozen model still works
            problem = "%s is unusable (%s)" % (source, e)
            report(problem + ": trying the next model")
            continue
        return _classifier
    raise OSError(problem or "no model: push %s to %s or build firmware with mnist_model"
                  % (files.MODEL_FILE, files.DEVICE_DIR))


def load_digits(path=None, report=_report):
    global _digits
    _digits = files.load_digits(path, report)
    return _digits


def _ready(index=0):
    if _classifier is None:
        load_model()
    if _digits is None:
        load_digits()
    _digits.check(index)
    return _classifier, _digits


def decode(index):
    """Put test digit `index` into the model's input tensor; returns the tensor's values."""
    classifier, digits = _ready(index)
    classifier.decode(digits, index)
    return classifier.decoder.values()


def predict(index):
    """(prediction, scores, microseconds) for test digit `index`."""
    classifier, digits = _ready(index)
    prediction = classifier.classify(digits, index)
    return prediction, classifier.scores(), classifier.micros


def evaluate():
    """Run every test digit through the model; prints and returns the accuracy."""
    classifier, digits = _ready()
    correct = 0
    micros = 0
    for i in range(digits.count):
        correct += classifier.classify(digits, i) == digits.labels[i]
        micros += classifier.micros
    accuracy = correct / digits.count
    print("accuracy: %d/%d = %.2f%%, mean inference %d us"
          % (correct, digits.count, 100 * accuracy, micros // digits.count))
    return accuracy


def run(count=None, delay_ms=1000, display=None, sequential=False):
    """Show test digits (random ones unless `sequential`) and what the model makes of them, `count` times or
    until Ctrl-C. Returns (correct, total)."""
    import display as displays
    from .screen import Screen

    screen = Screen(display or displays.open())
    screen.clear()
    problems = []
    classifier = load_model(report=problems.append)
    digits = load_digits(report=problems.append)
    for problem in problems:
        _report(problem)
    if problems:
        screen.message(problems[-1])
    print("model: %s, digits: %s (%d), display: %s"
          % (classifier.source, digits.source, digits.count, screen.display.name))
    correct = total = micros = 0
    try:
        while count is None or total < count:
            index = total % digits.count if sequential else random.getrandbits(16) % digits.count
            label = digits.labels[index]
            prediction = classifier.classify(digits, index)
            total += 1
            correct += prediction == label
            micros += classifier.micros
            print("digit %d label %d predicted %d score %d%% %d us"
                  % (index, label, prediction, classifier.percent(prediction), classifier.micros))
            screen.digit(digits, index)
            screen.result(classifier, prediction, label)
            screen.stats(correct, total, classifier.micros, classifier.source)
            screen.display.show()
            if delay_ms:
                time.sleep_ms(delay_ms)
    except KeyboardInterrupt:
        print("stopped")
    if total:
        print("%d digits, %d right, accuracy %.1f%%, mean inference %d us"
              % (total, correct, 100 * correct / total, micros // total))
    return correct, total


def draw(rounds=None, display=None, i2c=None):
    """Draw a digit on the touch screen (the DISCO's, or the page of `mpy-mnist emulate --view`); lift your
    finger and it is read. Ctrl-C stops."""
    from .touch import draw as _draw

    return _draw(load_model(), rounds, display, i2c)
