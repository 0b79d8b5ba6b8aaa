"""The main job: the whole workflow (conf/workflow.yaml) on generated data.

./dev.sh demo [--force] [--only TASK] [--set paths.root=/tmp/run]
"""

from telcoseg.cli import main
from telcoseg.workflow.demo import add_args, ensure_demo_key, run

if __name__ == "__main__":
    ensure_demo_key()
    main("demo", run, add_args)
