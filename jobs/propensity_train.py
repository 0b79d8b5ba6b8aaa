"""Train one propensity model per configured outcome; promote only fair, better models.

python jobs/propensity_train.py --snapshot-dates 2026-01-01,2026-01-15,2026-01-29
"""

from telcoseg.cli import main
from telcoseg.propensity.jobs import add_train_args, train_job

if __name__ == "__main__":
    main("propensity_train", train_job, add_train_args)
