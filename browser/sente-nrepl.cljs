(ns sente-lite.nrepl
  "nREPL over sente-lite for stock scittle.nrepl.js.

  The page loads nrepl-shim.js before scittle.nrepl.js (and leaves
  SCITTLE_NREPL_WEBSOCKET_PORT unset), so scittle.nrepl.js binds to the shim's
  fake window.ws_nrepl instead of opening its own socket. (start! client) then
  carries each [:nrepl/request {:edn \"...\"}] from the sente-lite socket into
  scittle.nrepl.js, and sends every response it writes back as
  [:nrepl/response {:edn \"...\"}]. describe, which scittle.nrepl.js does not
  implement, is answered here with the ops it does.

  No destructuring (SCI): first/second/get only."
  (:require [clojure.edn :as edn]
            [sente-lite.client :as sl]))

(def ops
  "The ops stock scittle.nrepl.js (0.8.33) answers."
  ["eval" "complete" "info" "eldoc" "lookup"])

(def version {:major "1" :minor "0" :incremental "0" :version-string "1.0.0"})

(defn- nrepl-socket [] (.-ws_nrepl js/window))

(defonce ^:private out-client (atom nil))

(defonce ^:private out-buffer (atom ""))

(defn- flush-out! []
  (let [text @out-buffer
        client @out-client]
    (reset! out-buffer "")
    (when (and client (seq text))
      (sl/send! client [:nrepl/response {:edn (pr-str {:out text :id "sente-out"})}]))))

(defn push-out!
  "Sends text the page printed outside any evaluation to the gateway, which
  hands it to the editor session that evaluated last here. Lines printed
  together go in one message (at most 64 KiB are kept, the newest). The
  gateway's sente.repl helper calls it; without a started bridge it does nothing."
  [s]
  (when @out-client
    (let [was @out-buffer
          now (str was s "\n")]
      (reset! out-buffer (if (> (count now) 65536) (subs now (- (count now) 65536)) now))
      (when (empty? was)
        (js/setTimeout flush-out! 20)))))

(defn- respond! [client m]
  (sl/send! client [:nrepl/response {:edn (pr-str m)}]))

(defn- with-ids [m req]
  (let [id (get req :id)
        session (get req :session)]
    (cond-> m
      (some? id) (assoc :id id)
      (some? session) (assoc :session session))))

(defn- describe-reply [req]
  (with-ids {:ops (into {} (map (fn [op] [(keyword op) {}]) ops))
             :versions {:sente-lite-nrepl version}
             :aux {:runtime "scittle" :transport "sente-lite"}
             :status ["done"]}
            req))

(defn- op-name [op]
  (cond
    (keyword? op) (if (namespace op) (str (namespace op) "/" (name op)) (name op))
    (string? op) op
    :else nil))

(defn- parse-request
  "The request as a map with a keyword :op (what scittle.nrepl.js dispatches on)
  and as the EDN text to hand over: [msg text]."
  [data]
  (let [text (get data :edn)]
    (if (string? text)
      (let [m (edn/read-string text)]
        (if (keyword? (get m :op))
          [m text]
          (let [m2 (assoc m :op (keyword (op-name (get m :op))))]
            [m2 (pr-str m2)])))
      ;; The plain shape: the nREPL keys themselves, op as a string.
      (let [m (assoc (dissoc data :edn) :op (keyword (op-name (get data :op))))]
        [m (pr-str m)]))))

(defn- handle-request! [client data]
  (let [parsed (try
                 (parse-request data)
                 (catch :default e
                   (.error js/console "sente-lite.nrepl: unreadable :nrepl/request" e)
                   nil))
        req (first parsed)
        text (second parsed)
        ws (nrepl-socket)]
    (cond
      (nil? parsed)
      (when (map? data)
        (respond! client (with-ids {:err "sente-lite.nrepl: unreadable request\n" :status ["error" "done"]} data)))

      (= "describe" (op-name (get req :op)))
      (respond! client (describe-reply req))

      (or (nil? ws) (not (fn? (.-onmessage ws))))
      (respond! client (with-ids {:err "sente-lite.nrepl: scittle.nrepl.js is not loaded on this page (load nrepl-shim.js, then scittle.nrepl.js)\n"
                                  :status ["error" "done"]}
                                 req))

      :else
      (try
        (.onmessage ws #js {:data text})
        (catch :default e
          (respond! client (with-ids {:err (str "sente-lite.nrepl: " (ex-message e) "\n")
                                      :status ["error" "done"]}
                                     req)))))))

(defn start!
  "Makes this page an nREPL runtime over client (a sente-lite.client client).
  Registers an :nrepl/request handler (kept across reconnects) and routes what
  scittle.nrepl.js sends to the server. Returns the handler id, for stop!."
  [client]
  (let [ws (nrepl-socket)]
    (when-not (and ws (.-senteShim ws))
      (.warn js/console "sente-lite.nrepl: window.ws_nrepl is not the nrepl-shim.js stand-in; load nrepl-shim.js before scittle.nrepl.js"))
    (when-not (and ws (fn? (.-onmessage ws)))
      (.warn js/console "sente-lite.nrepl: scittle.nrepl.js has not bound window.ws_nrepl; nREPL evals will fail"))
    (when (and ws (.-senteAttach ws))
      (.senteAttach ws (fn [text] (sl/send! client [:nrepl/response {:edn text}]))))
    (reset! out-client client)
    (sl/on! client {:event-id :nrepl/request
                    :callback (fn [msg] (handle-request! client (get msg :data)))})))

(defn stop!
  "Undoes start!: the page stops answering nREPL requests."
  [client handler-id]
  (let [ws (nrepl-socket)]
    (sl/off! client handler-id)
    (reset! out-client nil)
    (when (and ws (.-senteDetach ws))
      (.senteDetach ws))
    nil))
