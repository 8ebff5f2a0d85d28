"""``output.enable_custom_widget_manager`` as Colab's (nothing to do outside Colab)."""


def enable_custom_widget_manager() -> None:
    pass
