"""Run a workflow definition locally: tasks in order, retries, skip what is done.

python jobs/workflow.py --workflow conf/workflow.yaml [--snapshot-date D] [--force]
python jobs/workflow.py --export-databricks databricks.yml
"""

from __future__ import annotations

import sys

from telcoseg.cli import main
from telcoseg.workflow.runner import add_args, run

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--export-databricks":
        from telcoseg.workflow import databricks
        from telcoseg.workflow.spec import load_workflow

        with open(sys.argv[2], "w", encoding="utf-8") as fh:
            fh.write(databricks.to_yaml(databricks.bundle(load_workflow())))
        sys.exit(0)
    main("workflow", run, add_args)
