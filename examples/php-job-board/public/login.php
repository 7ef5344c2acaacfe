<?php
// A stand-in for a real login: any name is accepted and kept in the PHP session. What matters
// here is that auth.php later finds $_SESSION['user'] from the cookie rtio forwards.
declare(strict_types=1);
require __DIR__ . '/../app.php';

start_session();
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $name = trim((string)($_POST['name'] ?? ''));
    if (fits($name, 40)) {
        session_regenerate_id(true); // a new id once logged in (session fixation)
        $_SESSION['user'] = $name;
        $_SESSION['csrf'] = bin2hex(random_bytes(16));
        header('Location: index.php', true, 303);
        exit;
    }
}
?><!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Log in · Job board</title></head>
<body>
<h1>Log in</h1>
<form method="post" id="login">
  <label>Name <input name="name" id="name" required maxlength="40"></label>
  <button>Log in</button>
</form>
</body>
</html>
