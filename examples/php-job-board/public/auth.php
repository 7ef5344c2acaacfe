<?php
// rtio serve's [auth] url: rtio POSTs each Socket.IO connect as JSON
// {sid, nsp, auth, query, headers, address, secure}; headers.cookie is the browser's, so the
// PHP session cookie in it says who connects. 200 {data, rooms} lets the socket in (data becomes
// its socket data, rooms are joined); 401 {message} refuses it and the page's socket gets a
// connect_error with that message. Only rtio should reach this script (see README.md).
declare(strict_types=1);
require __DIR__ . '/../app.php';

header('Content-Type: application/json');
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(405);
    echo json_encode(['message' => 'POST only']);
    exit;
}
$connect = json_decode((string)file_get_contents('php://input'), true);
$cookies = [];
// The Cookie header as the browser sent it: "a=1; PHPSESSID=abc".
foreach (explode(';', (string)($connect['headers']['cookie'] ?? '')) as $pair) {
    [$name, $value] = array_map('trim', explode('=', $pair, 2)) + [1 => ''];
    $cookies[$name] = urldecode($value);
}
$id = $cookies[session_name()] ?? '';
$user = null;
// Only an id PHP could have made; anything else is not looked up.
if (preg_match('/^[A-Za-z0-9,-]{22,256}$/', $id)) {
    start_session($id, readOnly: true); // read_and_close: the pages' session is not locked
    $user = $_SESSION['user'] ?? null;
}
if (!is_string($user)) {
    http_response_code(401);
    echo json_encode(['message' => 'login first']);
    exit;
}
echo json_encode(['data' => ['user' => $user], 'rooms' => ['jobs']]);
