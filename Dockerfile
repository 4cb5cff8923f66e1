# kaltura-archiver as a one-shot container (AWS Fargate / Batch). Configuration comes from the environment
# (README "Settings"); AWS credentials from the task role. The command is a runbook (archive.rc,
# restore.rc, health.rc: N_YEARS, DOIT) or a kaltura-archiver command line (see container/entrypoint).
# The image holds the tool, its placeholder files and the runbooks, never the testbed.
FROM python:3.11-slim AS build
WORKDIR /src
COPY container/requirements.lock container/requirements.lock
COPY pyproject.toml README.md ./
COPY engine engine
COPY adapters adapters
COPY jobs jobs
# the runtime dependencies at the versions the tests ran with (container/requirements.lock)
RUN pip install --no-cache-dir --prefix=/install -c container/requirements.lock .

FROM python:3.11-slim
COPY --from=build /install /usr/local
# the placeholder video and thumbnail at the default PLACEHOLDER_VIDEO / PLACEHOLDER_IMAGE paths
COPY placeholders/placeholder_video.mp4 placeholders/placeholder_image.jpeg /usr/local/share/kaltura-archiver/
COPY container/entrypoint container/steps.sh container/archive.rc container/restore.rc container/health.rc \
     /opt/kaltura-archiver/
# a user of its own (numeric, so a platform can check it is not root) with a writable working directory
# for `download` and temporary files
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/archiver --shell /usr/sbin/nologin archiver
WORKDIR /home/archiver
# JSON logs on stderr for CloudWatch; no terminal in a task, so no progress bar.
ENV PYTHONUNBUFFERED=1 PATH=/opt/kaltura-archiver:$PATH
USER 10001:10001
ENTRYPOINT ["/opt/kaltura-archiver/entrypoint"]
CMD ["--help"]
