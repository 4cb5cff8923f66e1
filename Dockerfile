# kaltura-archiver as a one-shot container (AWS Fargate / Batch). Configuration comes from the environment
# (README "Settings"); AWS credentials from the task role.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine engine
COPY adapters adapters
COPY jobs jobs
COPY testbed testbed
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
# JSON logs on stderr for CloudWatch; no terminal in a task, so no progress bar.
ENV PYTHONUNBUFFERED=1
USER nobody
ENTRYPOINT ["kaltura-archiver"]
CMD ["--help"]
