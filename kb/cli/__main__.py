"""``python -m kb.cli``: the ``tandem`` command."""

from kb.cli import main

if __name__ == "__main__":
    main()
