# The cache-friendly order: the dependency manifest alone, install, then the sources. A source edit
# misses only at COPY . . and after it; the pip install layer is reused.
FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
CMD ["python", "src/app.py"]
