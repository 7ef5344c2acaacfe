<?php
// The job board: the list of jobs (from SQLite), and for a logged-in user a form to post one.
// Saving a job tells rtio serve (rtio_emit), which sends `server:created:job` to every page's
// socket; the page appends it. The browser only listens: it never relays the job.
declare(strict_types=1);
require __DIR__ . '/../app.php';

start_session();
$user = $_SESSION['user'] ?? null;

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    if ($user === null || !hash_equals($_SESSION['csrf'] ?? '', (string)($_POST['csrf'] ?? ''))) {
        http_response_code(403);
        exit('Log in first (or reload the form).');
    }
    $title = trim((string)($_POST['title'] ?? ''));
    $company = trim((string)($_POST['company'] ?? ''));
    if (!fits($title, 200) || !fits($company, 200)) {
        http_response_code(400);
        exit('A title and a company, 200 characters at most.');
    }
    $insert = db()->prepare('INSERT INTO jobs (title, company, posted_by) VALUES (?, ?, ?)');
    $insert->execute([$title, $company, $user]);
    $job = ['id' => (int)db()->lastInsertId(), 'title' => $title, 'company' => $company];
    rtio_emit('server:created:job', [$job], ['jobs']);
    header('Location: index.php', true, 303); // Post/Redirect/Get: a reload does not post again
    exit;
}

$jobs = db()->query('SELECT id, title, company FROM jobs ORDER BY id')->fetchAll();
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Job board</title>
<script src="/socket.io/socket.io.js"></script>
</head>
<body>
<h1>Job board</h1>
<p>Live updates: <span id="status">connecting</span></p>
<?php if ($user === null): ?>
<p><a href="login.php">Log in</a> to post a job and see new ones live.</p>
<?php else: ?>
<p>Logged in as <strong id="user"><?= h($user) ?></strong></p>
<form method="post" id="post-job">
  <input type="hidden" name="csrf" value="<?= h($_SESSION['csrf'] ?? '') ?>">
  <label>Title <input name="title" id="title" required maxlength="200"></label>
  <label>Company <input name="company" id="company" required maxlength="200"></label>
  <button>Post the job</button>
</form>
<?php endif ?>
<ul id="jobs">
<?php foreach ($jobs as $job): ?>
  <li data-id="<?= (int)$job['id'] ?>"><?= h($job['title']) ?> — <?= h($job['company']) ?></li>
<?php endforeach ?>
</ul>
<script>
  // Same origin: the web server proxies /socket.io/ to rtio serve, and the browser sends the
  // PHP session cookie with the handshake, which rtio forwards to auth.php.
  const socket = io();
  const status = document.getElementById('status');
  socket.on('connect', () => (status.textContent = 'connected'));
  socket.on('disconnect', () => (status.textContent = 'disconnected'));
  socket.on('connect_error', (err) => (status.textContent = err.message)); // e.g. "login first"
  socket.on('server:created:job', (job) => {
    const list = document.getElementById('jobs');
    if (list.querySelector(`li[data-id="${Number(job.id)}"]`)) return; // already rendered
    const li = document.createElement('li');
    li.dataset.id = job.id;
    li.textContent = `${job.title} — ${job.company}`; // text, never HTML
    list.append(li);
  });
</script>
</body>
</html>
