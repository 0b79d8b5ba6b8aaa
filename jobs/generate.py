"""Generate a realistic, seeded operator landing zone plus its truth folder.

python jobs/generate.py [--subscribers N] [--days D] [--seed S] [--output DIR]
"""

from telcoseg.cli import main
from telcoseg.generator.job import add_args, run

if __name__ == "__main__":
    main("generate", run, add_args)
