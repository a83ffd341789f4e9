"""Offloading training to Yandex Cloud."""
